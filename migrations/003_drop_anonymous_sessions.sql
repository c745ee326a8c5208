-- Anonymous visitors no longer get a session: their forms carry a signed double-submit cookie
-- instead. Earlier releases stored a 30-day session row for every anonymous visit (holding only
-- a form token); they are deleted here rather than left to expire. Rows that are not valid
-- JSON are left to the expiry sweep.

DELETE FROM sessions
WHERE ended_at IS NULL
  AND json_valid(sess)
  AND json_extract(sess, '$.userId') IS NULL;
