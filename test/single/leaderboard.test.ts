// Where a player stands: the leaderboard lists the first 20 heroes and, for a player below
// them, their own line under the table; their profile and their lobby show their place among
// all heroes who finished a game. Results are written into the node's database directly (25
// finished games per hero would take minutes to play); each hero is logged in from signing up.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { freePort, startNode, tempDir, type NodeProcess } from '../support/node-process.js';
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

/** The leaderboard's rows: place and name. */
function rows(html: string): [string, string][] {
  return [
    ...html.matchAll(/<tr class="(?:me)?"?[^>]*><td>([\d,]+)<\/td><td><a [^>]*>([^<]+)<\/a>/g),
  ].map((m) => [m[1]!, m[2]!]);
}

describe('where a player stands', () => {
  it('the leaderboard adds the line of a player below its first 20, marked as theirs', async () => {
    const low = heroes[22]!;
    const { html } = await low.page('/leaderboard');
    const listed = rows(html);
    expect(listed).toHaveLength(21);
    expect(listed.slice(0, 20).map(([, n]) => n)).toEqual(
      heroes.slice(0, 20).map((h) => h.username),
    );
    expect(listed[20]).toEqual(['23', low.username]);
    expect(html).toMatch(new RegExp(`<tr class="me"><td>23</td><td><a [^>]*>${low.username}<`));
    expect(html).toContain('played, place <strong>23</strong> of 23.');

    // One in the first 20 gets no extra line; one with no finished game, no place.
    const top = heroes[3]!;
    const topPage = (await top.page('/leaderboard')).html;
    expect(rows(topPage)).toHaveLength(20);
    expect(topPage).toMatch(new RegExp(`<tr class="me"><td>4</td><td><a [^>]*>${top.username}<`));
    const none = heroes[23]!;
    const nonePage = (await none.page('/leaderboard')).html;
    expect(rows(nonePage)).toHaveLength(20);
    expect(nonePage).toContain('won of <strong>0</strong> played. ');
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
