// Named channels over the mesh ("replication", "sessions", …): the handlers each layer
// registers, the messages delivered to them, and peer events fanned out to every channel. A
// handler that throws is logged and never stops the others.

import { MAX_CHANNEL_NAME } from './protocol.js';
import type { ClusterLogger, Member, MemberHandler, MeshChannel, MessageHandler } from './types.js';

/** What channels send through: the mesh's live peers and its links. */
export interface ChannelTransport {
  /** Live peers (connected, authenticated, not declared down), copied. */
  livePeers(): Member[];
  /** Sends `body` on channel `ch` to those of `peerIds` that are live; returns who it went to. */
  sendApp(ch: string, peerIds: string[], body: unknown): string[];
}

interface Handlers {
  message: MessageHandler[];
  up: MemberHandler[];
  down: MemberHandler[];
  state: MemberHandler[];
  relink: MemberHandler[];
}

export type PeerEvent = 'up' | 'down' | 'state' | 'relink';

export class Channels {
  readonly #selfId: string;
  readonly #transport: ChannelTransport;
  readonly #logger: ClusterLogger;
  readonly #handlers = new Map<string, Handlers>();

  constructor(selfId: string, transport: ChannelTransport, logger: ClusterLogger) {
    this.#selfId = selfId;
    this.#transport = transport;
    this.#logger = logger;
  }

  /** The channel `name`; the same handlers for the same name. */
  open(name: string): MeshChannel {
    if (name.length < 1 || name.length > MAX_CHANNEL_NAME) {
      throw new Error(`channel name must be 1–${MAX_CHANNEL_NAME} characters, got "${name}"`);
    }
    let handlers = this.#handlers.get(name);
    if (!handlers) {
      handlers = { message: [], up: [], down: [], state: [], relink: [] };
      this.#handlers.set(name, handlers);
    }
    const h = handlers;
    const transport = this.#transport;
    return {
      selfId: this.#selfId,
      peers: () => transport.livePeers(),
      send: (peerId, body) => transport.sendApp(name, [peerId], body).length === 1,
      broadcast: (body) => {
        const ids = transport.livePeers().map((p) => p.id);
        return transport.sendApp(name, ids, body);
      },
      onMessage: (handler) => void h.message.push(handler),
      onPeerUp: (handler) => void h.up.push(handler),
      onPeerDown: (handler) => void h.down.push(handler),
      onPeerState: (handler) => void h.state.push(handler),
      onPeerRelink: (handler) => void h.relink.push(handler),
    };
  }

  /** Hands a peer's message to the channel's handlers; false when no such channel is open. */
  deliver(from: string, ch: string, body: unknown, frameBytes?: number): boolean {
    const handlers = this.#handlers.get(ch);
    if (!handlers) return false;
    for (const handler of handlers.message) {
      try {
        handler(from, body, frameBytes);
      } catch (err) {
        this.#logger.error({ channel: ch, err }, `message handler on ${ch} failed`);
      }
    }
    return true;
  }

  /** Tells every channel that a peer came up, went down, changed state or changed link. */
  emit(kind: PeerEvent, member: Member): void {
    for (const [name, handlers] of this.#handlers) {
      for (const handler of handlers[kind]) {
        try {
          handler({ ...member, schemas: [...member.schemas] });
        } catch (err) {
          this.#logger.error({ channel: name, err }, `peer ${kind} handler on ${name} failed`);
        }
      }
    }
  }
}
