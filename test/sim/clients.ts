// Simulated players: each is connected to one node at a time (a load balancer picks a ready
// one), plays one action per round at a random moment, keeps every action until it is
// acknowledged and sends the unacknowledged ones again after a reconnect or a refusal marked
// "retry" — as public/js/minotaur.js does. Records what it sent, every ack, and every round
// it saw, for the checker.

import { awaitsPlayer } from '../../src/game/hold.js';
import type { CommandResult } from '../../src/sessions/commands.js';
import { DIRECTIONS, type ActionKind, type PlayerAction } from '../../src/game/types.js';
import type { SimNode } from './node.js';
import type { World } from './world.js';

export interface Ack {
  actionId: string;
  round: number;
  duplicate: boolean;
  node: string;
  at: number;
}

export interface Seen {
  at: number;
  node: string;
  round: number;
  status: string;
  epoch: number;
  owner: string;
  seq: number;
}

export interface ClientEnv {
  world: World;
  /** Nodes a load balancer would send a new connection to (ready ones). */
  ready: () => SimNode[];
  latency: () => number;
  /** Whether the result of a game with this code is recorded (its page is then shown from it). */
  ended: (code: string) => boolean;
}

export class SimClient {
  node: SimNode | undefined;
  /** Bumped on every (re)connection, so callbacks of an old connection are ignored. */
  #conn = 0;
  readonly pending = new Map<string, PlayerAction>();
  readonly acks: Ack[] = [];
  readonly seen: Seen[] = [];
  readonly notFound: { at: number; node: string }[] = [];
  chosenRound = 0;
  #actions = 0;
  #pushDue = 0;
  #announced: number | undefined;
  #unsubscribe: (() => void) | undefined;
  stopped = false;

  constructor(
    readonly env: ClientEnv,
    readonly playerId: string,
    readonly name: string,
    public code: string,
  ) {}

  get world(): World {
    return this.env.world;
  }

  /** Connects (or reconnects) to a ready node, after `delayMs`. */
  connect(delayMs = 0): void {
    const conn = ++this.#conn;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.node = undefined;
    this.world.after(delayMs, () => {
      if (conn !== this.#conn || this.stopped) return;
      const ready = this.env.ready();
      if (ready.length === 0) return this.connect(500);
      const node = this.world.rng.pick(ready);
      this.node = node;
      // The page request and the socket open run inside the node.
      this.world.after(
        this.env.latency(),
        () => this.#opened(conn, node),
        node.proc,
        `client:${this.name}`,
      );
    });
  }

  /** The node closed our socket (drain 1012, or the process died): reconnect like htmx. */
  dropped(): void {
    if (this.stopped) return;
    this.connect(this.world.rng.int(100, 2000));
  }

  stop(): void {
    this.stopped = true;
    this.#conn++;
    this.#unsubscribe?.();
  }

  #opened(conn: number, node: SimNode): void {
    if (conn !== this.#conn) return;
    if (!node.alive || node.state !== 'ready') {
      // Refused with 503 before the handshake: the load balancer retries elsewhere.
      return this.connect(this.world.rng.int(100, 500));
    }
    // The page is shown at least what the database holds (as the web route does).
    void node.sessions.awaitGame(this.code).then(async (state) => {
      if (conn !== this.#conn) return;
      // The page sends the token of what it showed last (as a real page's reconnect does): a node
      // whose copy is behind it closes the socket, and the page comes back shortly.
      const last = this.seen[this.seen.length - 1];
      const seen = last && {
        epoch: last.epoch,
        round: last.round,
        over: last.status === 'finished',
      };
      if (state && seen && !(await node.sessions.caughtUp(this.code, seen, null))) {
        if (conn === this.#conn) this.connect(this.world.rng.int(500, 2000));
        return;
      }
      if (conn !== this.#conn) return;
      if (state) return this.#subscribe(conn, node);
      void node.sessions.pending(this.code).then((resuming) => {
        // "One moment" while it resumes; after the game ended, "gone" is right (its result stays).
        if (
          !resuming &&
          !this.env.ended(this.code) &&
          !this.seen.some((s) => s.status === 'finished')
        )
          this.notFound.push({ at: this.world.now, node: node.id });
        this.connect(1000);
      });
    });
  }

  #subscribe(conn: number, node: SimNode): void {
    this.#unsubscribe = node.sessions.subscribe((key) => {
      if (key === this.code && conn === this.#conn) this.#observe(conn, node);
    });
    this.#observe(conn, node);
    for (const action of this.pending.values()) this.#send(conn, node, action);
  }

  /** The node pushes the page's new state to us. */
  #observe(conn: number, node: SimNode): void {
    // What the page shows, and the version it comes from.
    const rec = node.sessions.shownRecord(this.code);
    const state = node.sessions.game(this.code);
    if (!rec || !state) return;
    const seen: Seen = {
      at: 0,
      node: node.id,
      round: state.round,
      status: state.status,
      epoch: rec.epoch,
      owner: rec.owner,
      seq: rec.seq,
    };
    // The page is open: a round held after an outage hears that this player is back (as the
    // server's live socket does for a real page).
    if (awaitsPlayer(state, this.playerId) && this.#announced !== state.hold?.until) {
      this.#announced = state.hold?.until;
      void node.sessions.execute(this.code, { kind: 'present', playerId: this.playerId });
    }
    const me = state.players.find((p) => p.id === this.playerId);
    const round = state.round;
    const mayAct =
      state.status === 'playing' &&
      me?.alive === true &&
      !state.submitted[this.playerId] &&
      this.chosenRound < round;
    // One socket delivers in order.
    this.#pushDue = Math.max(this.world.now + this.env.latency(), this.#pushDue);
    this.world.schedule(this.#pushDue, () => {
      if (conn !== this.#conn) return;
      seen.at = this.world.now;
      this.seen.push(seen);
      if (mayAct && this.chosenRound < round) {
        this.chosenRound = round;
        const wait = this.world.rng.int(0, Math.floor(state.roundMs * 0.8));
        this.world.after(wait, () => this.#act(round));
      }
    });
  }

  #act(round: number): void {
    if (this.stopped) return;
    const rng = this.world.rng;
    const kind: ActionKind = rng.pick(['move', 'move', 'attack', 'defend'] as const);
    const action: PlayerAction = { id: `${this.name}-${++this.#actions}`, round, kind };
    if (kind !== 'defend') action.dir = rng.pick(DIRECTIONS);
    this.pending.set(action.id, action);
    if (this.node) this.#send(this.#conn, this.node, action);
  }

  #send(conn: number, node: SimNode, action: PlayerAction): void {
    this.world.after(
      this.env.latency(),
      () => {
        if (!node.alive) return;
        void node.sessions
          .execute(this.code, { kind: 'act', playerId: this.playerId, action })
          .then((result) => {
            this.world.after(this.env.latency(), () => this.#result(conn, node, action, result));
          });
      },
      node.proc,
      `client:${this.name}`,
    );
  }

  #result(conn: number, node: SimNode, action: PlayerAction, result: CommandResult): void {
    if (this.stopped) return;
    if (result.ok) {
      if (this.pending.delete(action.id) || !this.acks.some((a) => a.actionId === action.id)) {
        this.acks.push({
          actionId: action.id,
          round: action.round,
          duplicate: result.duplicate,
          node: node.id,
          at: this.world.now,
        });
      }
      return;
    }
    if (!result.retry) {
      this.pending.delete(action.id);
      return;
    }
    // The page sends a refused-for-now action again a second later, on the same socket.
    this.world.after(1000, () => {
      if (conn === this.#conn && this.node === node && this.pending.has(action.id))
        this.#send(conn, node, action);
    });
  }
}
