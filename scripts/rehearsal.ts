// Deploy rehearsal: a real cluster behind real HAProxy, run as production runs it, while
// players play and HTTP load runs; an operator's changes and the infrastructure's failures
// happen to it; the report says everything a player could have noticed.
//
//   npm run rehearsal                 # build, then every scenario (about two minutes)
//   npm run rehearsal -- --deploys 1 --games 3 --bots 4 --scenarios rolling,freeze-owner --keep
//
// All on loopback (127.0.0.0/8), within four minutes:
//   1. A DNS server (test/support/dns-server.ts) answers tasks.minotaur-redeploy with the nodes
//      "in service", as Swarm's embedded DNS answers tasks.<service> with healthy tasks.
//   2. Three nodes (node dist/main.js) on 127.0.0.2-4, one port, one SQLite file, clustered
//      through that DNS name, run as production runs them: the environment of the minotaur
//      service in deploy/docker-stack.yml, read from the file, with fresh secrets and
//      production's password cost. Only LOG_LEVEL=debug (the invariant checker reads each
//      round's resolution) and ADMIN_TOKEN (it samples the replicated records) are added.
//   3. HAProxy runs deploy/haproxy.cfg itself, terminating TLS with a certificate made for the
//      run, finding the nodes through the same DNS and health-checking /health_check.
//   4. Bot players (test/support/bots.ts) play several games through HAProxy over https and wss,
//      each from an address of its own; they keep each action until it is acknowledged and send
//      unacknowledged ones again after reconnecting, as the page does. Logged-in HTTP load runs
//      beside them. Finished games are replaced, so every scenario happens under play.
//   5. The scenarios (scripts/rehearsal/scenarios.ts), in order: start-first rolling updates of
//      every node (Swarm's order: the new node ready, in DNS, UP in HAProxy; then the old one
//      leaves DNS and gets SIGTERM); the busiest owner frozen with SIGSTOP until its peers took
//      its games over, then SIGCONT; every node lost at once (SIGKILL) and new nodes started
//      together, each entering DNS once ready.
//   6. The players stop, the invariants are checked (test/support/invariants.ts: no
//      acknowledged action lost, none applied twice, no round repeated or skipped, no game
//      reset) and the report printed (scripts/rehearsal/report.ts). Exit code 0 only if nothing
//      a player could notice went wrong outside the outage the cold start is.

import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { haproxyVersion } from '../test/support/haproxy.js';
import { checkInvariants } from '../test/support/invariants.js';
import { MAIN } from '../test/support/node-process.js';
import { LocalCluster } from './rehearsal/cluster.js';
import { USAGE, readOptions, type Options } from './rehearsal/options.js';
import { Players } from './rehearsal/players.js';
import { report } from './rehearsal/report.js';
import {
  coldStart,
  finalRecords,
  freezeOwner,
  playingGames,
  rollingUpdate,
  roundsPass,
  type ColdStart,
  type Context,
  type Freeze,
  type Replacement,
} from './rehearsal/scenarios.js';
import { say, sleep } from './rehearsal/say.js';

const TIME_LIMIT_MS = 240_000;

function preflight(o: Options): void {
  const hv = haproxyVersion();
  if (!hv) {
    process.stderr.write(
      'rehearsal: `haproxy` is not installed (or not on PATH).\n  Debian/Ubuntu: apt-get install -y haproxy openssl   (2.2 or newer)\n',
    );
    process.exit(2);
  }
  if (!existsSync(MAIN)) {
    process.stderr.write(
      'rehearsal: dist/main.js is missing; run `npm run build` first (npm run rehearsal does).\n',
    );
    process.exit(2);
  }
  say(
    `${hv}; node ${process.version}; scenarios ${o.scenarios.join(', ')} (${o.deploys} rolling updates of 3 nodes); ${o.games} games × ${o.bots} bots, ${o.httpWorkers} HTTP load workers`,
  );
}

async function main(o: Options): Promise<number> {
  preflight(o);
  const cluster = await LocalCluster.create(5);
  const rig = cluster.rig;
  const players = new Players(cluster, { games: o.games, bots: o.bots });
  let failed = true;
  const cleanup = async () => {
    for (const b of rig.bots) b.stop();
    rig.sampler.stop();
    await players.stop();
    await cluster.stop();
  };
  const watchdog = setTimeout(() => {
    say(`rehearsal: over the ${TIME_LIMIT_MS / 1000} s limit; stopping. Logs: ${rig.dir}`);
    void cleanup().finally(() => process.exit(1));
  }, TIME_LIMIT_MS);
  watchdog.unref();
  process.once('SIGINT', () => {
    say('interrupted');
    void cleanup().finally(() => process.exit(130));
  });

  try {
    const first = ['a1', 'a2', 'a3'].map((id) => cluster.launch(id));
    await Promise.all(first.map((n) => n.ready(cluster.readyTimeoutMs)));
    for (const n of first) await cluster.enterService(n);
    // A first deploy: each node became ready before DNS listed the others; wait until they meshed.
    await cluster.meshed(first);
    say(
      `3 nodes ready on ${first.map((n) => n.address).join(', ')} (NODE_ENV=production, environment of deploy/docker-stack.yml); HAProxy on ${cluster.url} (TLS) has them UP`,
    );

    await players.start(o.httpWorkers);
    const ctx: Context = { cluster, current: first, playingGames: () => playingGames(cluster) };
    say(
      `${rig.codes.length} games × ${o.bots} bots playing through HAProxy (${(await ctx.playingGames()).map((g) => `${g.code}@${g.owner}`).join(' ')})`,
    );
    await roundsPass(cluster, 2);

    const replacements: Replacement[] = [];
    // Each scenario starts under full play (the keeper replaces games that ended).
    for (let d = 1; d <= o.deploys; d++) {
      await players.full();
      replacements.push(...(await rollingUpdate(ctx, d, o.deploys)));
    }
    let freeze: Freeze | null = null;
    if (o.scenarios.includes('freeze-owner')) {
      await players.full();
      freeze = await freezeOwner(ctx);
    }
    let cold: ColdStart | null = null;
    if (o.scenarios.includes('cold-start')) {
      // The cold start resumes running games: stop opening new ones (an opening would fail
      // while every node is down), and make sure one runs.
      await players.full();
      await players.pause();
      if ((await ctx.playingGames()).length === 0) await players.tryOpen();
      cold = await coldStart(ctx);
    }
    await roundsPass(cluster, 1).catch(() => undefined);

    await players.stop();
    await rig.quiesce();
    const { finals, missing } = await finalRecords(cluster, cold);
    const codes = rig.codes.filter((c) => finals.has(c));
    const invariants = checkInvariants({
      codes,
      bots: rig.bots.filter((b) => finals.has(b.code)),
      nodes: rig.all,
      samples: rig.sampler.samples,
      finals,
    });
    const out = report({
      cluster,
      players,
      invariants,
      finals,
      missing,
      replacements,
      deploys: o.deploys,
      freeze,
      cold,
    });
    process.stdout.write(out.lines.join('\n') + '\n');
    failed = out.failed;
    writeFileSync(join(rig.dir, 'report.txt'), out.lines.join('\n') + '\n');
    return failed ? 1 : 0;
  } catch (err) {
    say(`rehearsal aborted: ${(err as Error).stack ?? String(err)}`);
    await sleep(500); // the nodes' last log lines are still in the pipes
    say(rig.tail(15));
    return 1;
  } finally {
    clearTimeout(watchdog);
    writeFileSync(join(rig.dir, 'haproxy.log'), cluster.haproxy.lines.join('\n') + '\n');
    for (const n of rig.all)
      writeFileSync(join(rig.dir, `node-${n.opts.nodeId}.log`), n.raw.join('\n') + '\n');
    await cleanup();
    if (failed || o.keep) say(`logs and report kept in ${rig.dir}`);
    else rmSync(rig.dir, { recursive: true, force: true });
  }
}

let options: Options;
try {
  options = readOptions(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`rehearsal: ${(err as Error).message}\n${USAGE}\n`);
  process.exit(2);
}
// The multi-host mode (every node, PostgreSQL and HAProxy on hosts of their own) lives in
// scripts/rehearsal/hosts.ts.
const run = options.hosts
  ? import('./rehearsal/hosts.js').then((m) =>
      m.runHostsRehearsal({ short: options.short, keep: options.keep }),
    )
  : main(options);
run.then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
