// The mesh channel of a node running alone (no DNS_CLUSTER_QUERY): no peers, nothing to send.
// Lets the layers above run the same code single-node and clustered.

import type { MeshChannel } from './types.js';

export function soloChannel(selfId: string): MeshChannel {
  return {
    selfId,
    peers: () => [],
    send: () => false,
    broadcast: () => [],
    onMessage: () => undefined,
    onPeerUp: () => undefined,
    onPeerDown: () => undefined,
    onPeerState: () => undefined,
    onPeerRelink: () => undefined,
  };
}
