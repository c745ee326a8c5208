// The contract between the cluster layer and the layers above it: members, their
// lifecycle state, and named message channels over the authenticated mesh.

export type NodeState = 'starting' | 'joining' | 'ready' | 'draining' | 'stopped';

export interface Member {
  /** Stable id of the node process (NODE_ID or generated at start). */
  id: string;
  /** host:port the node is reachable at for the mesh and for HTTP. */
  address: string;
  state: NodeState;
  /** The node's release version (package.json version). */
  version: string;
  /** Mesh protocol version spoken by the node. */
  protocol: number;
  /** Game record schemas this node can read (e.g. [1, 2]). */
  schemas: number[];
  /** What its channels can do beyond the protocol (its hello's `caps`; none for older releases). */
  caps: string[];
  /** Local time (ms) the last message from this member arrived. */
  lastSeen: number;
}

export type MemberHandler = (member: Member) => void;
/**
 * A peer's message on a channel; `frameBytes` is the size of the frame that carried it (the body's
 * JSON is at most that long), when the transport knows it.
 */
export type MessageHandler = (from: string, body: unknown, frameBytes?: number) => void;

/**
 * One named channel over the mesh (e.g. "replication", "sessions"). Bodies are plain JSON
 * values; the channel's owner validates them, the mesh only checks the envelope.
 */
export interface MeshChannel {
  readonly selfId: string;
  /** Live peers: connected, authenticated and not declared down. Never includes self. */
  peers(): Member[];
  /** Sends to one live peer; false when that peer is not connected. */
  send(peerId: string, body: unknown): boolean;
  /** Sends to every live peer; returns the ids it was sent to. */
  broadcast(body: unknown): string[];
  onMessage(handler: MessageHandler): void;
  /** A peer finished the handshake (or came back after being declared down). */
  onPeerUp(handler: MemberHandler): void;
  /** A peer was declared down (silence past the limit, or its socket closed and stayed closed). */
  onPeerDown(handler: MemberHandler): void;
  /** A live peer announced a new lifecycle state (e.g. draining). */
  onPeerState(handler: MemberHandler): void;
  /**
   * The link to a live peer was restored after it broke, or replaced by a newer one, without the
   * peer being declared down: what was sent on the old link may be lost (a request still
   * waiting for its answer is worth sending again).
   */
  onPeerRelink(handler: MemberHandler): void;
}

/**
 * The logging surface the cluster layer needs; a pino logger satisfies it. Passed in so the
 * layer never reaches for a global logger.
 */
export interface ClusterLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
