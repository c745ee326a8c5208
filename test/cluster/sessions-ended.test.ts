// Sessions ended on one node end on every node, live pages included: real nodes on one
// database. The node where a password is changed (or a browser logs out) tells its peers, which
// send the account's pages of ended sessions to reconnect at once, where the one whose session
// ended is refused and the one of the browser that changed it comes back with its new session.
// An operator's reset, which no node hears of, is found by each node's periodic check.

import { afterEach, describe, expect, it } from 'vitest';
import { adminCommand } from '../support/admin.js';
import { waitFor } from '../support/node-process.js';
import { Player, type LiveConnection } from '../support/player.js';
import { Rig } from '../support/redeploy-rig.js';

let rig: Rig | undefined;
const conns: LiveConnection[] = [];

afterEach(async () => {
  for (const c of conns.splice(0)) c.ws.terminate();
  await rig?.close();
  rig = undefined;
});

function track(conn: LiveConnection): LiveConnection {
  conns.push(conn);
  return conn;
}

const codes = (...pages: LiveConnection[]): (number | null)[] => pages.map((p) => p.closeCode);

describe('sessions ended on a cluster of two', () => {
  it("a password change on one node closes the ended sessions' pages on the other at once, and only those", async () => {
    // A check every 10 minutes: whatever n2 closes within seconds, it was told of.
    rig = await Rig.create({ roundSeconds: 30, env: { SESSION_CHECK_MS: '600000' } });
    const n1 = rig.start('n1', '127.0.0.2');
    const n2 = rig.start('n2', '127.0.0.3');
    await Promise.all([n1.ready(), n2.ready()]);
    const tag = Date.now().toString(36).slice(-5);

    const laptop = new Player(n1.url, `lap${tag}`, 'first password');
    await laptop.signup();
    const phone = new Player(n2.url, laptop.username, 'first password');
    expect((await phone.login()).status).toBe(303);
    const bystander = new Player(n2.url, `by${tag}`);
    await bystander.signup();

    // Pages open on n2: the phone's, the laptop's (with the session it is about to replace) and
    // another account's.
    laptop.base = n2.url;
    const phonePage = track(phone.connectLobby());
    const laptopPage = track(laptop.connectLobby());
    const otherPage = track(bystander.connectLobby());
    await Promise.all([phonePage.opened, laptopPage.opened, otherPage.opened]);

    laptop.base = n1.url;
    const changed = await laptop.post(
      '/account/password',
      { current: 'first password', password: 'second password', again: 'second password' },
      '/account/password',
    );
    expect(changed.status).toBe(303);

    await waitFor(
      () => phonePage.closeCode !== null && laptopPage.closeCode !== null,
      3000,
      "n2 to close the account's pages",
    );
    expect(codes(phonePage, laptopPage, otherPage)).toEqual([1012, 1012, null]);
    expect(
      n2.lines.some(
        (l) => /live pages of ended sessions sent to reconnect/.test(l.msg) && l.toldBy === 'n1',
      ),
    ).toBe(true);

    // Their reconnects: the phone's session ended, the laptop holds its new one.
    laptop.base = n2.url;
    const phoneAgain = track(phone.connectLobby());
    const laptopAgain = track(laptop.connectLobby());
    await laptopAgain.opened;
    await waitFor(() => phoneAgain.closeCode !== null, 5000, "the phone's reconnect to be refused");
    expect(phoneAgain.closeCode).toBe(4401);

    // The laptop logs out on n1: its pages there and on n2 go too; the other account's stays.
    laptop.base = n1.url;
    const laptopHome = track(laptop.connectLobby());
    await laptopHome.opened;
    expect((await laptop.post('/logout', {}, '/lobby')).status).toBe(303);
    await waitFor(
      () => laptopAgain.closeCode !== null && laptopHome.closeCode !== null,
      3000,
      "both nodes to close the laptop's pages",
    );
    expect(codes(laptopAgain, laptopHome, otherPage)).toEqual([1012, 1012, null]);
  });

  it("an operator's password reset, which no node hears of, is found by each node's session check", async () => {
    rig = await Rig.create({ roundSeconds: 30, env: { SESSION_CHECK_MS: '1000' } });
    const n1 = rig.start('n1', '127.0.0.2');
    const n2 = rig.start('n2', '127.0.0.3');
    await Promise.all([n1.ready(), n2.ready()]);
    const tag = Date.now().toString(36).slice(-5);

    const laptop = new Player(n1.url, `rst${tag}`, 'first password');
    await laptop.signup();
    const phone = new Player(n2.url, laptop.username, 'first password');
    expect((await phone.login()).status).toBe(303);
    const bystander = new Player(n2.url, `by${tag}`);
    await bystander.signup();
    const laptopPage = track(laptop.connectLobby());
    const phonePage = track(phone.connectLobby());
    const otherPage = track(bystander.connectLobby());
    await Promise.all([laptopPage.opened, phonePage.opened, otherPage.opened]);
    // Canaries: accounts with a page on each node whose sessions the operator ends too. A check
    // asks about every page of its node at once, so the one that closes a canary's page has
    // looked at the others as well (nothing else tells that a check ran).
    const canaries = await Promise.all(
      ['ca', 'cb'].map(async (name) => {
        const p = new Player(n1.url, `${name}${tag}`);
        await p.signup();
        const pages = [track(p.connectLobby())];
        p.base = n2.url;
        pages.push(track(p.connectLobby()));
        await Promise.all(pages.map((c) => c.opened));
        return { username: p.username, pages };
      }),
    );
    const checkedOnEveryNode = async (canary: (typeof canaries)[number]) => {
      expect(adminCommand(rig!.dbPath, ['reset-password', canary.username]).status).toBe(0);
      await waitFor(
        () => canary.pages.every((c) => c.closeCode !== null),
        5000,
        `both nodes' checks to close ${canary.username}'s pages`,
      );
      expect(codes(...canary.pages)).toEqual([1012, 1012]);
    };

    // A check finds every other session live: nothing else is closed.
    await checkedOnEveryNode(canaries[0]!);
    expect(codes(laptopPage, phonePage, otherPage)).toEqual([null, null, null]);

    const reset = adminCommand(rig.dbPath, ['reset-password', laptop.username]);
    expect(reset.status).toBe(0);

    await waitFor(
      () => laptopPage.closeCode !== null && phonePage.closeCode !== null,
      5000,
      "both nodes to close the account's pages",
    );
    expect(codes(laptopPage, phonePage, otherPage)).toEqual([1012, 1012, null]);
    const again = track(phone.connectLobby());
    await waitFor(() => again.closeCode !== null, 5000, "the phone's reconnect to be refused");
    expect(again.closeCode).toBe(4401);
    // The other account's page stays open across later checks.
    await checkedOnEveryNode(canaries[1]!);
    expect(otherPage.closeCode).toBeNull();
  });
});
