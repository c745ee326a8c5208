// A password changed on one node ends the account's other sessions on every node, live pages
// included: two real nodes on one database; the account's pages held open on the other node
// are sent to reconnect within SESSION_CHECK_MS, where the one whose session ended is refused
// and the one of the browser that changed it comes back with its new session.

import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/node-process.js';
import { Player, type LiveConnection } from '../support/player.js';
import { Rig } from '../support/redeploy-rig.js';

let rig: Rig | undefined;
const conns: LiveConnection[] = [];

afterAll(async () => {
  for (const c of conns) c.ws.terminate();
  await rig?.close();
});

function track(conn: LiveConnection): LiveConnection {
  conns.push(conn);
  return conn;
}

describe('a password change on a cluster of two', () => {
  it("closes the ended sessions' live pages on the other node too, and only those", async () => {
    rig = await Rig.create({ roundSeconds: 30, env: { SESSION_CHECK_MS: '1000' } });
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

    // A check finds every session live: nothing is closed.
    await new Promise((r) => setTimeout(r, 1500));
    expect([phonePage.closeCode, laptopPage.closeCode, otherPage.closeCode]).toEqual([
      null,
      null,
      null,
    ]);

    laptop.base = n1.url;
    const changed = await laptop.post(
      '/account/password',
      { current: 'first password', password: 'second password', again: 'second password' },
      '/account/password',
    );
    expect(changed.status).toBe(303);

    // n2 has no page of this account's that n1 could close: its check sends both to reconnect.
    await waitFor(
      () => phonePage.closeCode !== null && laptopPage.closeCode !== null,
      5000,
      "n2 to close the account's pages",
    );
    expect([phonePage.closeCode, laptopPage.closeCode]).toEqual([1012, 1012]);
    expect(otherPage.closeCode).toBeNull();
    expect(n2.lines.some((l) => /live pages of ended sessions sent to reconnect/.test(l.msg))).toBe(
      true,
    );

    // Their reconnects: the phone's session ended, the laptop holds its new one.
    laptop.base = n2.url;
    const phoneAgain = track(phone.connectLobby());
    const laptopAgain = track(laptop.connectLobby());
    await laptopAgain.opened;
    await waitFor(() => phoneAgain.closeCode !== null, 5000, "the phone's reconnect to be refused");
    expect(phoneAgain.closeCode).toBe(4401);
    // And the laptop's new page stays open across the next checks.
    await new Promise((r) => setTimeout(r, 1500));
    expect(laptopAgain.closeCode).toBeNull();
    expect(otherPage.closeCode).toBeNull();
  });
});
