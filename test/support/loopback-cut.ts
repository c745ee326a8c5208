// A network cut between nodes on loopback addresses (one host): iptables rules that drop what
// either side of each pair sends the other, while both still reach everything else (the
// database, the load balancer, the test). Needs root, as CI runs.

import { spawnSync } from 'node:child_process';

export interface LoopbackCut {
  cut(): void;
  /** Removes the rules; also those an interrupted run left (same tag). */
  heal(): void;
}

/** Why a loopback cut cannot be made here, or null when it can. */
export function loopbackCutUnavailable(): string | null {
  if (process.getuid?.() !== 0)
    return 'cutting the network between nodes needs root (CI runs as root)';
  if (spawnSync('sh', ['-c', 'command -v iptables']).status !== 0)
    return 'iptables is missing: run `bash scripts/ensure-debian.sh`';
  return null;
}

/**
 * A cut between each of `pairs` (both ways), its rules tagged with `tag`. With `port`, only the
 * connections to and from that port are cut (other tests may use the same addresses).
 */
export function loopbackCut(pairs: [string, string][], tag: string, port?: number): LoopbackCut {
  const ports =
    port === undefined
      ? [[]]
      : [
          ['-p', 'tcp', '--dport', String(port)],
          ['-p', 'tcp', '--sport', String(port)],
        ];
  const rules = pairs.flatMap(([a, b]) =>
    ports.flatMap((p) => [
      ['INPUT', '-s', a, '-d', b, ...p],
      ['INPUT', '-s', b, '-d', a, ...p],
    ]),
  );
  const tagged = (r: string[]) => [...r, '-j', 'DROP', '-m', 'comment', '--comment', tag];
  return {
    cut() {
      for (const r of rules) {
        const out = spawnSync('iptables', ['-I', ...tagged(r)], { encoding: 'utf8' });
        if (out.status !== 0) throw new Error(`iptables ${r.join(' ')}: ${out.stderr.trim()}`);
      }
    },
    heal() {
      for (const r of rules) {
        // A rule inserted twice is deleted once per call: delete until none is left.
        while (spawnSync('iptables', ['-D', ...tagged(r)]).status === 0);
      }
    },
  };
}
