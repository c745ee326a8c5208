// A player's password: changed from their profile (which logs them out everywhere else, and
// sends the live pages of the account back through the login check), refused with a clear
// message for every wrong form, limited per account; and hashed again at the next login once an
// operator raises PASSWORD_COST.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  freePort,
  startNode,
  tempDir,
  waitFor,
  type NodeProcess,
} from '../support/node-process.js';
import { adminCommand } from '../support/admin.js';
import { Player, type LiveConnection } from '../support/player.js';

const HOST = '127.0.0.4';
const tag = String(Date.now() % 100000);
const conns: LiveConnection[] = [];
let node: NodeProcess;
let dbPath: string;
let port: number;

function start(cost: number): NodeProcess {
  return startNode({
    host: HOST,
    port,
    databasePath: dbPath,
    env: { PASSWORD_COST: String(cost), LOGIN_RATE_LIMIT: '3', SESSION_CHECK_MS: '1000' },
  });
}

/** The stored hash of an account, read from the node's database. */
function storedHash(username: string): string {
  const db = new Database(dbPath, { readonly: true });
  try {
    const row = db
      .prepare('SELECT password_hash FROM accounts WHERE username = ?')
      .get(username) as { password_hash: string } | undefined;
    return row?.password_hash ?? '';
  } finally {
    db.close();
  }
}

/** The text of the form's error, or ''. */
function errorOf(html: string): string {
  return /<p class="error"[^>]*>([\s\S]*?)<\/p>/.exec(html)?.[1]?.trim() ?? '';
}

async function change(p: Player, form: Record<string, string>): Promise<Response> {
  return p.post('/account/password', form, '/account/password');
}

beforeAll(async () => {
  dbPath = join(tempDir(), 'account.db');
  port = await freePort([HOST]);
  node = start(12);
  await node.ready();
});

afterAll(async () => {
  for (const c of conns) c.ws.terminate();
  await node.kill();
});

describe('changing the password', () => {
  it('refuses each wrong form with its reason, then changes it and logs every other device out', async () => {
    const name = `minos${tag}`;
    const laptop = new Player(node.url, name, 'first password');
    await laptop.signup();
    const phone = new Player(node.url, name, 'first password');
    expect((await phone.login()).status).toBe(303);
    const phoneLobby = phone.connectLobby();
    conns.push(phoneLobby);
    await phoneLobby.opened;

    // Reached from one's own profile only.
    expect((await laptop.page(`/players/${name}`)).html).toContain('href="/account/password"');
    const other = new Player(node.url, `pasiphae${tag}`);
    await other.signup();
    expect((await other.page(`/players/${name}`)).html).not.toContain('/account/password');

    const refusals: [Record<string, string>, number, RegExp][] = [
      [
        { current: 'wrong password', password: 'second password', again: 'second password' },
        401,
        /not your current password/,
      ],
      [
        { current: 'first password', password: 'second password', again: 'second passw0rd' },
        422,
        /differ/,
      ],
      [
        { current: 'first password', password: 'short', again: 'short' },
        422,
        /at least 8 characters/,
      ],
      [
        { current: 'first password', password: 'first password', again: 'first password' },
        422,
        /your current password/,
      ],
      [
        { current: 'first password', password: 'second password' },
        422,
        /^Enter the new password a second time\.$/,
      ],
      // The same password typed three times, but not the current one: it is not told to be.
      [
        { current: 'wrong again', password: 'wrong again', again: 'wrong again' },
        401,
        /not your current password/,
      ],
    ];
    for (const [form, status, message] of refusals) {
      const res = await change(laptop, form);
      expect(res.status, JSON.stringify(form)).toBe(status);
      expect(errorOf(await res.text()), JSON.stringify(form)).toMatch(message);
    }
    expect(storedHash(name)).toMatch(/^scrypt\$4096\$/);
    const before = storedHash(name);

    const done = await change(laptop, {
      current: 'first password',
      password: 'second password',
      again: 'second password',
    });
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe(`/players/${name}`);
    expect(storedHash(name)).not.toBe(before);
    const profile = await laptop.page(`/players/${name}`);
    expect(profile.html).toContain('Password changed. You are logged out everywhere else.');
    expect((await laptop.request('/lobby')).status).toBe(200);

    // The phone's session ended: its pages go to the login, its live page was sent to
    // reconnect, and the reconnect is refused.
    await waitFor(() => phoneLobby.closeCode !== null, 5000, "the phone's lobby socket to close");
    expect(phoneLobby.closeCode).toBe(1012);
    const again = phone.connectLobby();
    conns.push(again);
    await waitFor(() => again.closeCode !== null, 5000, 'the reconnect to be refused');
    expect(again.closeCode).toBe(4401);
    const lobby = await phone.request('/lobby');
    expect(lobby.status).toBe(302);
    expect(lobby.headers.get('location')).toMatch(/^\/login/);

    // The old password no longer opens the account; the new one does.
    expect((await new Player(node.url, name, 'first password').login()).status).toBe(401);
    expect((await new Player(node.url, name, 'second password').login()).status).toBe(303);
    expect(node.lines.some((l) => l.msg === 'password changed' && l.sessionsEnded === 1)).toBe(
      true,
    );
  });

  it('needs a login, and a form token', async () => {
    const visitor = new Player(node.url, 'nobody');
    const page = await visitor.request('/account/password');
    expect(page.status).toBe(302);
    expect(page.headers.get('location')).toBe('/login?next=%2Faccount%2Fpassword');
    const p = new Player(node.url, `ariadne${tag}`, 'first password');
    await p.signup();
    const forged = await p.request('/account/password', {
      method: 'POST',
      body: new URLSearchParams({
        current: 'first password',
        password: 'x'.repeat(9),
        again: 'x'.repeat(9),
      }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(forged.status).toBe(403);
    expect((await new Player(node.url, p.username, 'first password').login()).status).toBe(303);
  });

  it('limits wrong current passwords per account, like logins (LOGIN_RATE_LIMIT)', async () => {
    const p = new Player(node.url, `icarus${tag}`, 'first password');
    await p.signup();
    const wrong = { current: 'guess guess', password: 'second password', again: 'second password' };
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await change(p, wrong)).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
    // The right one is refused too until the window ends: guessing gains nothing.
    const right = await change(p, { ...wrong, current: 'first password' });
    expect(right.status).toBe(429);
    expect(errorOf(await right.text())).toMatch(/Too many wrong passwords/);
  });
});

describe('the login and password forms', () => {
  it('tie their fields to what is said of them, and after a refused login start in the password', async () => {
    const name = `hippolyta${tag}`;
    await new Player(node.url, name, 'first password').signup();
    const refused = await new Player(node.url, name, 'not the password').login();
    expect(refused.status).toBe(401);
    const html = await refused.text();
    expect(html).toContain('<p class="error" id="form-error" role="alert">');
    const field = (n: string) => new RegExp(`<input name="${n}"[^>]*>`).exec(html)?.[0] ?? '';
    expect(field('username')).toContain(`value="${name}"`);
    expect(field('username')).not.toContain('autofocus');
    expect(field('password')).toContain('autofocus');
    for (const n of ['username', 'password']) {
      expect(field(n)).toContain('aria-describedby="form-error"');
      expect(field(n)).toContain('aria-invalid="true"');
    }
    // The sign-up form: the rules are the fields' description.
    const signup = await new Player(node.url, 'nobody').page('/signup');
    expect(signup.html).toMatch(
      /<input name="username"[^>]*aria-describedby="username-status form-rules"/,
    );
    expect(signup.html).toMatch(/<input name="password"[^>]*aria-describedby="form-rules"/);
    expect(signup.html).toContain('id="form-rules"');
  });

  it("invite a visitor with a game's link to join an open game, and to watch one under way", async () => {
    const host = new Player(node.url, `minos${tag}x`);
    await host.signup();
    const guest = new Player(node.url, `aeacus${tag}`);
    await guest.signup();
    const open = await host.createGame();
    const visitor = new Player(node.url, `stranger${tag}v`);
    const sentTo = async (code: string) => {
      const res = await visitor.request(`/games/${code}`);
      expect(res.status).toBe(302);
      return res.headers.get('location') ?? '';
    };
    expect(await sentTo(open)).toBe(`/signup?next=${encodeURIComponent(`/games/${open}`)}`);
    expect((await visitor.page(await sentTo(open))).html).toContain(
      `You're invited to game <strong class="code">${open}</strong>`,
    );
    // Under way: no seat to take.
    expect((await guest.join(open)).status).toBe(303);
    expect((await host.start(open)).status).toBe(303);
    const watching = await sentTo(open);
    expect(watching).toBe(`/signup?next=${encodeURIComponent(`/games/${open}`)}&watch=1`);
    const page = (await visitor.page(watching)).html;
    expect(page).toContain(`Game <strong class="code">${open}</strong> is under way or over.`);
    expect(page).toContain("you'll be taken to it, to watch");
    expect(page).not.toContain("You're invited");
    // Its link to the login keeps it so.
    expect(page).toContain(
      `href="/login?next=${encodeURIComponent(`/games/${open}`)}&amp;watch=1"`,
    );
  });

  it('answer a visitor who is not logged in and posts Log out without storing a session', async () => {
    const visitor = new Player(node.url, `stranger${tag}`);
    const rows = () => {
      const db = new Database(dbPath, { readonly: true });
      try {
        return (db.prepare('SELECT count(*) AS n FROM sessions').get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    const before = rows();
    for (let i = 0; i < 5; i++) {
      const out = await visitor.post('/logout', {}, '/login');
      expect(out.status).toBe(303);
      expect(out.headers.get('location')).toBe('/');
    }
    expect(rows()).toBe(before);
  });

  it("give a form refused as expired the session's own token, so that its Log out works", async () => {
    const p = new Player(node.url, `phaedra${tag}`, 'first password');
    await p.signup();
    const expired = await p.request('/account/logout-others', {
      method: 'POST',
      body: new URLSearchParams({ _csrf: 'made-up' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(expired.status).toBe(403);
    const token = /name="_csrf" value="([^"]+)"/.exec(await expired.text())?.[1] ?? '';
    expect(token).not.toBe('');
    const out = await p.request('/logout', {
      method: 'POST',
      body: new URLSearchParams({ _csrf: token }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(out.status).toBe(303);
    expect((await p.request('/lobby')).status).toBe(302);
  });
});

describe('a password change the database fails halfway', () => {
  it('says the new password is saved, not "try again"', async () => {
    const p = new Player(node.url, `medea${tag}`, 'first password');
    await p.signup();
    // Ending this browser's old session (its tombstone) fails; storing the new hash does not.
    const db = new Database(dbPath);
    db.exec(
      `CREATE TRIGGER fail_tombstones BEFORE INSERT ON sessions WHEN NEW.ended_at IS NOT NULL
       BEGIN SELECT RAISE(ABORT, 'tombstones fail in this test'); END`,
    );
    try {
      const res = await change(p, {
        current: 'first password',
        password: 'second password',
        again: 'second password',
      });
      expect(res.status).toBe(503);
      const html = await res.text();
      expect(html).toContain('Your new password is saved');
      expect(html).not.toContain('Please try again');
    } finally {
      db.exec('DROP TRIGGER fail_tombstones');
      db.close();
    }
    expect((await new Player(node.url, p.username, 'second password').login()).status).toBe(303);
    expect((await new Player(node.url, p.username, 'first password').login()).status).toBe(401);
  });
});

describe('a sign-up the database fails halfway', () => {
  it('says the account is created and offers to log in, not "try again"', async () => {
    const p = new Player(node.url, `jason${tag}`, 'golden fleece');
    // Storing the account works; saving its logged-in session does not.
    const db = new Database(dbPath);
    db.exec(
      `CREATE TRIGGER fail_logins BEFORE INSERT ON sessions WHEN NEW.user_id <> ''
       BEGIN SELECT RAISE(ABORT, 'logged-in sessions fail in this test'); END`,
    );
    // Live sessions (not the tombstone of the anonymous id the sign-up replaced).
    const rows = () =>
      (
        db.prepare('SELECT count(*) AS n FROM sessions WHERE ended_at IS NULL').get() as {
          n: number;
        }
      ).n;
    const before = rows();
    try {
      const res = await p.post(
        '/signup?next=/profile',
        {
          username: p.username,
          password: p.password,
        },
        '/signup',
      );
      expect(res.status).toBe(503);
      const html = await res.text();
      expect(html).toContain(`Your account ${p.username} is created`);
      expect(html).toContain('href="/login?next=%2Fprofile"');
      expect(html).not.toContain('Something went wrong');
      expect(html).not.toContain('We could not save your session');
      // No session kept, no session cookie: the browser is logged out, as before the form.
      expect(rows()).toBe(before);
      expect(res.headers.getSetCookie().filter((c) => c.startsWith('minotaur.sid='))).toEqual([]);
    } finally {
      db.exec('DROP TRIGGER fail_logins');
      db.close();
    }
    // Not logged in, and no stray session row; the account logs in as it was made.
    expect((await p.request('/lobby')).status).toBe(302);
    expect((await p.login()).status).toBe(303);
    expect((await p.request('/lobby')).status).toBe(200);
  });
});

describe('a login under way while the password changes', () => {
  it('keeps no session of a login that checked the old password once the change is done', async () => {
    // Its own node, with slow hashing (two at a time): logins that read the old hash before the
    // change wait to check it until after, and only then save their session.
    const slow = startNode({
      host: HOST,
      port: await freePort([HOST]),
      databasePath: join(tempDir(), 'account-race.db'),
      // Eleven password checks at once from one address: more than a node lets one address have.
      env: { PASSWORD_COST: '15', LOGIN_RATE_LIMIT: '50', PASSWORD_CHECKS_PER_ADDRESS: '16' },
    });
    try {
      await slow.ready();
      const name = `aegeus${tag}`;
      const owner = new Player(slow.url, name, 'first password');
      await owner.signup();
      const logins = Array.from({ length: 10 }, () => new Player(slow.url, name, 'first password'));
      // The forms first, so that each login's request is only its POST.
      const forms = await Promise.all(logins.map((p) => p.page('/login')));
      const ownerForm = await owner.page('/account/password');
      const body = (f: Record<string, string>) => ({
        method: 'POST',
        body: new URLSearchParams(f),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      const changed = owner.request(
        '/account/password',
        body({
          _csrf: ownerForm.csrf,
          current: 'first password',
          password: 'second password',
          again: 'second password',
        }),
      );
      // Spread over the change (which checks the old password, then hashes the new one, each
      // some tens of ms at this cost): some read the old hash before it is replaced and check it
      // after.
      const answers = logins.map(
        (p, i) =>
          new Promise<Response>((resolve, reject) => {
            setTimeout(() => {
              p.request(
                '/login',
                body({ _csrf: forms[i]!.csrf, username: name, password: 'first password' }),
              ).then(resolve, reject);
            }, i * 25);
          }),
      );
      expect((await changed).status).toBe(303);
      const statuses = await Promise.all(answers.map(async (a) => (await a).status));
      // Each login was let in before the change (its session then ended with the others) or
      // refused: none keeps a session that the old password opened.
      for (const [i, p] of logins.entries()) {
        expect([303, 401], String(statuses)).toContain(statuses[i]);
        const lobby = await p.request('/lobby');
        expect(lobby.status, `login ${i} (${statuses[i]}): ${String(statuses)}`).toBe(302);
      }
      expect((await new Player(slow.url, name, 'second password').login()).status).toBe(303);
    } finally {
      await slow.kill();
    }
  });
});

describe('log out other devices', () => {
  it('ends every other session of the account from its profile, and keeps this one', async () => {
    const name = `aegeus${tag}`;
    const laptop = new Player(node.url, name, 'first password');
    await laptop.signup();
    const phone = new Player(node.url, name, 'first password');
    expect((await phone.login()).status).toBe(303);
    const phonePage = phone.connectLobby();
    conns.push(phonePage);
    await phonePage.opened;

    const profile = `/players/${name}`;
    expect((await laptop.page(profile)).html).toContain('action="/account/logout-others"');
    const res = await laptop.post('/account/logout-others', {}, profile);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(profile);
    expect((await laptop.page(profile)).html).toContain('Logged out on 1 other device.');
    // Its open page is sent to reconnect (this node closes it with the request; others at their
    // next session check).
    await waitFor(() => phonePage.closeCode !== null, 5000, "the phone's page to be closed");
    expect(phonePage.closeCode).toBe(1012);
    expect((await phone.request('/lobby')).status).toBe(302);
    expect((await laptop.request('/lobby')).status).toBe(200);

    await laptop.post('/account/logout-others', {}, profile);
    expect((await laptop.page(profile)).html).toContain('You were not logged in anywhere else.');
    // The password is unchanged.
    expect((await new Player(node.url, name, 'first password').login()).status).toBe(303);

    // As many times in 15 minutes as LOGIN_RATE_LIMIT (3 on this node), per account.
    expect((await laptop.post('/account/logout-others', {}, profile)).status).toBe(303);
    const refused = await laptop.post('/account/logout-others', {}, profile);
    expect(refused.status).toBe(429);
    expect(await refused.text()).toContain('Wait a few minutes before doing it again.');
    const other = new Player(node.url, `${name}x`, 'other password');
    await other.signup();
    expect((await other.post('/account/logout-others', {}, `/players/${name}x`)).status).toBe(303);
  });
});

describe('npm run admin -- reset-password', () => {
  it('gives a new random password, printed once, and logs the account out everywhere', async () => {
    const name = `theseus${tag}`;
    const p = new Player(node.url, name, 'forgotten password');
    await p.signup();
    const page = p.connectLobby();
    conns.push(page);
    await page.opened;
    const run = adminCommand(dbPath, ['reset-password', name.toUpperCase()], {
      PASSWORD_COST: '12',
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const printed = new RegExp(`^new password for ${name}: ([A-Za-z0-9_-]{16})$`, 'm').exec(
      run.stdout,
    );
    expect(printed, run.stdout).not.toBeNull();
    expect(run.stdout).toContain('1 session ended');
    expect(storedHash(name)).toMatch(/^scrypt\$4096\$/);

    // Logged out: its pages go to the login, its live page is sent to reconnect (the node's
    // next session check) and refused.
    const lobby = await p.request('/lobby');
    expect(lobby.status).toBe(302);
    await waitFor(() => page.closeCode !== null, 5000, 'the live page to be closed');
    expect(page.closeCode).toBe(1012);
    expect((await new Player(node.url, name, 'forgotten password').login()).status).toBe(401);
    expect((await new Player(node.url, name, printed![1]).login()).status).toBe(303);

    const unknown = adminCommand(dbPath, ['reset-password', `nobody${tag}`]);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('there is no account named');
    expect(unknown.stdout).toBe('');
  });
});

describe('a raised PASSWORD_COST', () => {
  it('hashes a password again at the next login, and the login goes on', async () => {
    const name = `talos${tag}`;
    await new Player(node.url, name, 'bronze giant').signup();
    expect(storedHash(name)).toMatch(/^scrypt\$4096\$8\$1\$/);
    await node.kill();
    node = start(13);
    await node.ready();
    const p = new Player(node.url, name, 'bronze giant');
    expect((await p.login()).status).toBe(303);
    expect(storedHash(name)).toMatch(/^scrypt\$8192\$8\$1\$/);
    expect(node.lines.some((l) => l.msg === 'password hashed again at the configured cost')).toBe(
      true,
    );
    // And the next login finds nothing to do.
    const count = () =>
      node.lines.filter((l) => l.msg === 'password hashed again at the configured cost').length;
    expect((await new Player(node.url, name, 'bronze giant').login()).status).toBe(303);
    expect(count()).toBe(1);
    expect((await new Player(node.url, name, 'wrong wrong').login()).status).toBe(401);
  });
});
