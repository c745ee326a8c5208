// Shared fixtures for the replication tests: records, a capturing logger, a small cluster
// over the in-memory mesh, and a condition wait with a deadline (no fixed sleeps).

import type { StoreRecord as GameRecord } from '../../../src/replication/record.js';
import type { GameState } from '../../../src/game/types.js';
import type { ReplicationLogger } from '../../../src/replication/protocol.js';
import { Replica } from '../../../src/replication/replica.js';
import { ReplicaSync, type ReplicaSyncOptions } from '../../../src/replication/sync.js';
import { MemoryNetwork, type MemoryNetworkOptions } from '../../support/memory-network.js';

export function record(
  key: string,
  epoch: number,
  owner: string,
  seq: number,
  opts: { tombstone?: boolean; at?: number; payload?: string } = {},
): GameRecord {
  // The state is derived from the version: one version names exactly one write.
  const state = opts.tombstone
    ? null
    : ({
        code: key,
        round: seq,
        note: `${epoch}/${owner}/${seq}`,
        payload: opts.payload,
      } as unknown as GameState);
  return { key, owner, epoch, seq, schema: 1, state, at: opts.at ?? 1000 + seq };
}

export interface LogLine {
  level: 'warn' | 'info' | 'debug';
  obj: object;
  msg: string;
}

export class TestLogger implements ReplicationLogger {
  readonly lines: LogLine[] = [];
  warn(obj: object, msg: string): void {
    this.lines.push({ level: 'warn', obj, msg });
  }
  info(obj: object, msg: string): void {
    this.lines.push({ level: 'info', obj, msg });
  }
  debug(obj: object, msg: string): void {
    this.lines.push({ level: 'debug', obj, msg });
  }
  at(level: LogLine['level']): LogLine[] {
    return this.lines.filter((l) => l.level === level);
  }
}

export interface TestNode {
  id: string;
  replica: Replica;
  sync: ReplicaSync;
  logger: TestLogger;
}

export function addNode(
  net: MemoryNetwork,
  id: string,
  options: Partial<ReplicaSyncOptions> = {},
): TestNode {
  const replica = new Replica();
  const logger = new TestLogger();
  const channel = net.join(id);
  const sync = new ReplicaSync({ replica, channel, logger, now: () => Date.now(), ...options });
  return { id, replica, sync, logger };
}

export async function cluster(
  ids: string[],
  netOptions: MemoryNetworkOptions = {},
  options: Partial<ReplicaSyncOptions> = {},
): Promise<{ net: MemoryNetwork; nodes: TestNode[] }> {
  const net = new MemoryNetwork(netOptions);
  const nodes = ids.map((id) => addNode(net, id, options));
  // Links come up in a microtask; let them, then let the peer-up exchanges finish.
  await Promise.resolve();
  if (net.options.autoDeliver) await net.settle();
  return { net, nodes };
}

/** Every record a replica holds (tombstones included), sorted by key. */
export function contents(replica: Replica): GameRecord[] {
  return replica.all().sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
