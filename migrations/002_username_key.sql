-- Usernames are unique under one normalisation, the same one login and its rate limit use:
-- trim, Unicode NFKC, case fold (usernameKey in src/db/accounts.ts). The application computes
-- the key on every insert. For the accounts that exist, sign-up has only ever accepted ASCII
-- letters, digits, - and _, whose key is lower(username); and the old UNIQUE COLLATE NOCASE
-- (ASCII case folding, like lower()) already kept two of them from sharing a key.
--
-- A name outside that alphabet (written to the file by hand) could collide with another under
-- NFKC. Rather than guess, the check below stops the migration, and the node with this
-- message: rename that account (sqlite3 minotaur.db "UPDATE accounts SET username = 'new'
-- WHERE id = N") and start again. The unique index then refuses any remaining collision.

ALTER TABLE accounts ADD COLUMN username_key TEXT;
UPDATE accounts SET username_key = lower(username);

CREATE TEMP TABLE username_key_check (
  names INTEGER NOT NULL,
  CONSTRAINT "an existing username is not only ASCII letters, digits, - and _; rename it before upgrading" CHECK (names = 0)
);
INSERT INTO username_key_check SELECT count(*) FROM accounts WHERE username GLOB '*[^A-Za-z0-9_-]*' OR username = '';
DROP TABLE username_key_check;

CREATE UNIQUE INDEX accounts_username_key ON accounts (username_key);
