// Where a player stands: the leaderboard lists the first 20 heroes and, for a player below
// them, their own line under the table; their profile and their lobby show their place among
// all heroes who finished a game. Results are written into the node's database directly (25
// finished games per hero would take minutes to play); each hero is logged in from signing up.

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
import { Player } from '../support/player.js';

const HOST = '127.0.0.5';
let node: NodeProcess;
let dbPath: string;
const heroes: Player[] = [];
const tag = String(Date.now() % 10000);

beforeAll(async () => {
  dbPath = join(tempDir(), 'leaderboard.db');
  node = startNode({
    host: HOST,
    port: await freePort([HOST]),
    databasePath: dbPath,
    env: { LOGIN_RATE_LIMIT: '100' },
  });
  await node.ready();
  for (let i = 0; i < 24; i++) {
    const p = new Player(node.url, `h${String(i).padStart(2, '0')}x${tag}`);
    await p.signup();
    heroes.push(p);
  }
  // Hero i won 24 - i games of 25 - i; the last one played none.
  const db = new Database(dbPath);
  const id = db.prepare('SELECT id FROM accounts WHERE username = ?').pluck();
  const game = db.prepare(
    'INSERT INTO results (game_id, code, finished_at, rounds, winner_account_id) VALUES (?, ?, ?, ?, ?)',
  );
  const player = db.prepare(
    'INSERT INTO result_players (game_id, account_id, won, eliminated_round) VALUES (?, ?, ?, ?)',
  );
  let g = 0;
  db.transaction(() => {
    for (let i = 0; i < heroes.length - 1; i++) {
      const account = id.get(heroes[i]!.username) as number;
      for (let k = 0; k < 25 - i; k++) {
        const won = k < 24 - i;
        game.run(`g${g}`, 'KEPS', 1000 + g, 5, won ? account : null);
        player.run(`g${g++}`, account, won ? 1 : 0, won ? null : 2);
      }
    }
  })();
  db.close();
});

afterAll(async () => {
  await node.kill();
});

/** The leaderboard's rows: place and name, and which one is marked as the player's. */
function rows(html: string): [string, string, boolean][] {
  return [
    ...html.matchAll(/<tr class="(me)?"(?: id="me")?><td>([\d,]+)<\/td><td><a [^>]*>([^<]+)<\/a>/g),
  ].map((m) => [m[2]!, m[3]!, m[1] === 'me']);
}

const names = (from: number, to: number) =>
  heroes.slice(from, to).map((h, i) => [String(from + i + 1), h.username, false]);

describe('where a player stands', () => {
  it('the leaderboard adds the line of a player below its first 20, marked as theirs', async () => {
    const low = heroes[22]!;
    const { html } = await low.page('/leaderboard');
    expect(rows(html)).toEqual([...names(0, 20), ['23', low.username, true]]);
    // Their place links to their page of the leaderboard.
    expect(html).toContain(
      'played, <a href="/leaderboard?page=2#me">place <strong>23</strong></a> of 23.',
    );
    expect(html).toContain('Page 1 of 2 · 23 heroes');

    // One in the first 20 gets no extra line; one with no finished game, no place.
    const top = heroes[3]!;
    const topPage = (await top.page('/leaderboard')).html;
    expect(rows(topPage)).toEqual(names(0, 20).map((r, i) => (i === 3 ? [r[0], r[1], true] : r)));
    expect(topPage).toContain('played, place <strong>4</strong> of 23.');
    const none = heroes[23]!;
    const nonePage = (await none.page('/leaderboard')).html;
    expect(rows(nonePage)).toEqual(names(0, 20));
    expect(nonePage).toContain('won of <strong>0</strong> played. ');
  });

  it("pages through every hero, with the player's own line above a page below them", async () => {
    const low = heroes[22]!;
    const second = (await low.page('/leaderboard?page=2')).html;
    expect(rows(second)).toEqual(names(20, 23).map((r, i) => (i === 2 ? [r[0], r[1], true] : r)));
    expect(second).toContain('rel="prev">← Higher places</a>');
    expect(second).not.toContain('rel="next"');
    const top = heroes[3]!;
    expect(rows((await top.page('/leaderboard?page=2')).html)).toEqual([
      ['4', top.username, true],
      ...names(20, 23),
    ]);
    // Past the last page, the last; anything else, the first.
    expect(rows((await top.page('/leaderboard?page=9')).html)).toHaveLength(4);
    for (const page of ['0', '-1', 'x', '1e3', '99999999'])
      expect((await top.page(`/leaderboard?page=${page}`)).status).toBe(200);
    expect(rows((await top.page('/leaderboard?page=x')).html)).toHaveLength(20);
  });

  it('the lobby says the place beside the record', async () => {
    expect((await heroes[22]!.page('/lobby')).html).toContain(
      'Place 23 of 23 on the <a href="/leaderboard">leaderboard</a>',
    );
    expect((await heroes[23]!.page('/lobby')).html).not.toContain('Place ');
  });

  it("a profile shows the hero's place among all who finished a game", async () => {
    const visitor = new Player(node.url, 'nobody');
    const place = (html: string) =>
      /<dt>Place<\/dt><dd>([^<]*)(?:<span class="of"> of ([\d,]+)<\/span>)?<\/dd>/
        .exec(html)
        ?.slice(1);
    expect(place((await visitor.page(`/players/${heroes[22]!.username}`)).html)).toEqual([
      '23',
      '23',
    ]);
    expect(place((await visitor.page(`/players/${heroes[0]!.username}`)).html)).toEqual([
      '1',
      '23',
    ]);
    expect(place((await visitor.page(`/players/${heroes[23]!.username}`)).html)).toEqual([
      '—',
      undefined,
    ]);
  });
});

describe('a game recorded by another node', () => {
  it('reaches the leaderboard within LEADERBOARD_MS, its table and record line agreeing meanwhile', async () => {
    const low = heroes[22]!;
    const line = (html: string) =>
      /Your record: <strong>(\d+)<\/strong> won of <strong>(\d+)<\/strong> played/
        .exec(html)
        ?.slice(1);
    const row = (html: string) => rows(html).find(([, name]) => name === low.username);
    const before = (await low.page('/leaderboard')).html;
    expect(line(before)).toEqual(['2', '3']);
    expect(row(before)).toEqual(['23', low.username, true]);

    // Another node records two games the player won (written straight into the shared
    // database): 4 of 5 puts them level with the 21st, ahead of the 22nd.
    const db = new Database(dbPath);
    const account = db
      .prepare('SELECT id FROM accounts WHERE username = ?')
      .pluck()
      .get(low.username);
    for (const game of ['elsewhere1', 'elsewhere2']) {
      db.prepare(
        'INSERT INTO results (game_id, code, finished_at, rounds, winner_account_id) VALUES (?, ?, ?, ?, ?)',
      ).run(game, 'KEPS', 9999, 5, account);
      db.prepare(
        'INSERT INTO result_players (game_id, account_id, won, eliminated_round) VALUES (?, ?, 1, NULL)',
      ).run(game, account);
    }
    db.close();

    // The lobby reads the record itself: it has the games at once.
    expect((await low.page('/lobby')).html).toMatch(
      /<span class="big">4<\/span> won of <span class="big">5<\/span> played/,
    );
    // The leaderboard shows the game once its next read is due; until then it says the same
    // everywhere on the page.
    const seen: { line: string[] | undefined; place: string | undefined }[] = [];
    const after = await waitFor(
      async () => {
        const html = (await low.page('/leaderboard')).html;
        seen.push({ line: line(html), place: row(html)?.[0] });
        return line(html)?.[0] === '4' ? html : null;
      },
      10_000,
      "the other node's games on the leaderboard",
    );
    for (const s of seen)
      expect(s, 'record line and table from one read').toEqual(
        s.place === '22' ? { line: ['4', '5'], place: '22' } : { line: ['2', '3'], place: '23' },
      );
    expect(row(after)).toEqual(['22', low.username, true]);
    expect(rows(after)).toHaveLength(21);
    expect(after).toContain('place <strong>22</strong></a> of 23.');
  });
  it('shows a finished game whose board is no longer kept as its result, to its heroes and to visitors', async () => {
    // The games written above have no final board, as after FINAL_STATE_DAYS.
    const hero = heroes[0]!;
    const { html, status } = await hero.page('/games/KEPS?game=g0');
    expect(status).toBe(200);
    expect(html).toContain('<span class="archived-badge">Finished game</span>');
    expect(html).toContain(
      `${hero.username} won after 5 rounds, on <time datetime="1970-01-01T00:00:01.000Z"`,
    );
    expect(html).toMatch(
      new RegExp(
        `<tr class="me">\\s*<td>1</td>\\s*<th scope="row"><a href="/players/${hero.username}">${hero.username}</a><span class="tag"> \\(you\\)</span>`,
      ),
    );
    expect(html).toContain(
      'The board of this game is no longer kept: games keep theirs for 90 days',
    );
    expect(html).toContain('href="/lobby">Back to the lobby</a>');
    // A game the hero lost: nobody won it, and the hero fell in round 2.
    const lost = await hero.page('/games/KEPS?game=g24');
    expect(lost.html).toContain('Nobody won after 5 rounds');
    expect(lost.html).toContain('<td>Fell in round 2</td>');
    // Without an id, the latest game of the code; and the same for a visitor without an account.
    const db = new Database(dbPath);
    const id = db.prepare('SELECT id FROM accounts WHERE username = ?').pluck();
    const [first, second] = [heroes[1]!, heroes[2]!].map((h) => id.get(h.username) as number);
    for (const [game, at, winner] of [
      ['lost1', 5000, first],
      ['lost2', 6000, second],
    ] as const) {
      db.prepare(
        'INSERT INTO results (game_id, code, finished_at, rounds, winner_account_id) VALUES (?, ?, ?, 9, ?)',
      ).run(game, 'LOST', at, winner);
      for (const account of [first, second])
        db.prepare(
          'INSERT INTO result_players (game_id, account_id, won, eliminated_round) VALUES (?, ?, ?, ?)',
        ).run(game, account, account === winner ? 1 : 0, account === winner ? null : 4);
    }
    db.close();
    const visitor = new Player(node.url, `nobody${tag}`);
    const latest = await visitor.page('/games/LOST');
    expect(latest.status).toBe(200);
    expect(latest.html).toContain(`${heroes[2]!.username} won after 9 rounds`);
    expect(latest.html).toContain('<a class="button" href="/signup">Sign up to play</a>');
    expect((await visitor.page('/games/KEPS?game=g0')).html).toContain(`${hero.username} won`);
    // A code or id never recorded is still not found.
    expect((await visitor.request('/games/ZORB')).status).toBe(404);
    expect((await hero.page('/games/KEPS?game=nope')).status).toBe(404);
  });
});
