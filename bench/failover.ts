/**
 * Section 4: failover on the bench cluster with the agents doing the work, as in production.
 * Each client node has a real init-script daemon, a `check service … -U -F <lock>` script check
 * through the launcher, a `checks` watch (state critical) running `watch critical`, key watches
 * for the promote/demote flags running its wrapper init script, and the KV trigger
 * `triggers/fo/primary/critical` = `service @INIT start` (@INIT: the node's daemon).
 *
 * Each interval is measured twice: with the check's -U alone, and with the event-driven path
 * added (a `service` watch on the cluster's service running `watch service`, as in
 * examples/consul/powerconsul-takeover-watch.json). The headline figure is from the moment the
 * active's check turned critical on its agent to the standby's service running. Last, with the
 * event path at 5 s, the active's agent is killed (node death) and the time from the kill to
 * the standby's service running is measured; the dead node comes back with its service stopped.
 * Env BENCH_FAILOVER_INTERVALS (default 1,5,10) picks the intervals.
 *
 * One run: at a random phase of the check schedules, the active's daemon is made unable to start (so its own self-healing trigger cannot
 * bring it back — a host whose service is broken) and stopped; we time, from that stop, the old
 * active's check going critical, the standby flipping the cluster document, the standby's daemon
 * running (pid file + /proc) and the standby's check passing. Then the roles settle (lock cleared
 * by the new standby's check) and the next run fails over the other way.
 *
 * @module
 */
import { join } from "node:path";
import { agentChecks, kvGet, kvPut, register } from "../tests/_agent.ts";
import { waitFor } from "../tests/harness/consul.ts";
import type { AgentHandle } from "../tests/harness/consul.ts";
import {
  type InitScriptHandle,
  installInitScript,
  installWrapperScript,
  uniqueName,
  writeConfig,
} from "../tests/harness/system.ts";
import { nodeWatches } from "../tests/_support/deployment.ts";
import { LAUNCHER, type World } from "./lib/env.ts";
import { measure, stat } from "./lib/measure.ts";
import type { FailoverRow, StartPrimaryRow } from "./lib/results.ts";

const SVC = "fo";
const CHECK = "fo-check";
const KEY = `cluster/${SVC}`;
const INTERVALS = (Deno.env.get("BENCH_FAILOVER_INTERVALS") ?? "1,5,10").split(",")
  .map(Number).filter((x) => Number.isInteger(x) && x > 0);
/** Interval of the node-death runs (event path on). */
const NODE_DEATH_INTERVAL = 5;

interface FoNode {
  agent: AgentHandle;
  daemon: InitScriptHandle;
  wrapper: string;
  lockFile: string;
  config: string;
}

export interface FailoverResult {
  failover: FailoverRow[];
  startPrimary: StartPrimaryRow | null;
  notes: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function available(w: World): Promise<string | undefined> {
  for (const cmd of [["watch", "--help"], ["trigger", "--help"], ["service", "x", "--help"]]) {
    const s = await measure({ argv: [LAUNCHER, ...cmd] }, w.tmp);
    if (s.code !== 0 || /not implemented/i.test(s.stdout + s.stderr)) {
      return `powerconsul ${cmd[0]} not implemented yet`;
    }
  }
  return undefined;
}

export async function failoverSection(
  w: World,
  runs: number,
  say: (s: string) => void,
): Promise<FailoverResult> {
  const missing = await available(w);
  if (missing) {
    return {
      failover: INTERVALS.map((intervalS) => ({
        intervalS,
        runs: 0,
        toRunningMs: null,
        toPassingMs: null,
        toActiveCriticalMs: null,
        toFlipMs: null,
        unavailable: missing,
        failures: [],
        detail: [],
      })),
      startPrimary: {
        runs: 0,
        durationMs: null,
        toRunningMs: null,
        unavailable: missing,
        failures: [],
      },
      notes: [],
    };
  }
  const { cluster } = w;
  const net = cluster.netAllow;
  const base = uniqueName("pcfo");
  const nodes: FoNode[] = [];
  /** Each node's config rewritten for a check interval (the HA timings follow it). */
  const configs: ((intervalS: number) => Promise<void>)[] = [];
  for (const [i, agent] of [w.n2.agent, w.n3.agent].entries()) {
    const tag = `n${i + 2}`;
    const daemon = await installInitScript(`${base}-d${i + 2}`);
    w.defer(() => daemon.remove());
    const dir = join(w.dirs.configDir, `fo-${tag}`);
    await Deno.mkdir(dir, { recursive: true });
    const configOf = (intervalS: number) => ({
      logDir: join(w.dirs.logDir, `fo-${tag}`),
      clusterKey: "cluster",
      subVars: { INIT: daemon.name },
      // the bench fails over every few seconds on purpose: no storm protection in the way
      triggerCooldown: 0,
      triggerBurst: 10_000,
      switchTimeout: 30,
      ...haTimings(intervalS),
    });
    const config = await writeConfig(dir, configOf(1));
    configs.push((intervalS) => writeConfig(dir, configOf(intervalS)).then(() => {}));
    const wrapper = `${base}-w${i + 2}`;
    const lockFile = join(w.dirs.lockDir, `${wrapper}.lock`);
    const path = await installWrapperScript({
      name: wrapper,
      consulService: SVC,
      services: [daemon.name],
      lockFile,
      config,
      agentAddr: agent.httpAddr,
      net,
      launcher: LAUNCHER,
    });
    w.defer(() => Deno.remove(path));
    nodes.push({ agent, daemon, wrapper, lockFile, config });
  }
  const [n2, n3] = nodes as [FoNode, FoNode];
  await kvPut(
    cluster.server,
    KEY,
    JSON.stringify({ active_nodes: [n2.agent.name], standby_nodes: [n3.agent.name] }),
  );
  await kvPut(cluster.server, `triggers/${SVC}/primary/critical`, "/usr/sbin/service @INIT start");
  await n2.daemon.start();
  const env = (n: FoNode) => [
    "/usr/bin/env",
    `POWERCONSUL_NET=${net}`,
    `CONSUL_HTTP_ADDR=${n.agent.httpAddr}`,
  ];
  const writeWatches = async (event: boolean) => {
    for (const n of nodes) await writeNodeWatches(n, event);
  };
  const writeNodeWatches = async (n: FoNode, event: boolean) => {
    const watches = nodeWatches({
      run: [...env(n), LAUNCHER],
      svc: SVC,
      node: n.agent.name,
      daemon: n.daemon.name,
      wrapper: n.wrapper,
      config: n.config,
      states: ["critical"],
      takeover: event,
    });
    await Deno.writeTextFile(
      join(n.agent.configDir, "bench-failover.json"),
      JSON.stringify({ watches }),
    );
    await n.agent.reload();
  };
  const registerAll = async (intervalS: number) => {
    for (const c of configs) await c(intervalS);
    for (const n of nodes) {
      await register(n.agent, {
        ID: SVC,
        Name: SVC,
        Tags: ["bench"],
        Check: {
          CheckID: CHECK,
          Args: [
            ...env(n),
            LAUNCHER,
            "check",
            "service",
            "-s",
            n.daemon.name,
            "-S",
            SVC,
            "-U",
            "-F",
            n.lockFile,
            "--config",
            n.config,
          ],
          Interval: `${intervalS}s`,
          Timeout: "20s",
        },
      });
    }
  };

  const checkOf = async (n: FoNode) => (await agentChecks(n.agent))[CHECK];
  const docOf = async () => {
    const e = await kvGet(cluster.server, KEY);
    return e?.value ? JSON.parse(e.value) as Record<string, unknown> : null;
  };
  const same = (a: unknown, names: string[]) =>
    Array.isArray(a) && a.length === names.length && names.every((x, i) => a[i] === x);
  /** Roles as wanted, lock cleared, daemons as the roles want, both checks passing. */
  const settle = async (active: FoNode, standby: FoNode, intervalS: number, what: string) => {
    await waitFor(what, async () => {
      const doc = await docOf();
      if (!doc || "lock" in doc) return false;
      if (!same(doc.active_nodes, [active.agent.name])) return false;
      if (!same(doc.standby_nodes, [standby.agent.name])) return false;
      if (!(await active.daemon.isRunning()) || (await standby.daemon.isRunning())) return false;
      for (const n of [active, standby]) {
        const c = await checkOf(n);
        if (c?.Status !== "passing" || c.Output === "") return false;
      }
      return true;
    }, { timeoutMs: 30_000 + 6_000 * intervalS, intervalMs: 50 });
  };

  const failover: FailoverRow[] = [];
  const notes: string[] = [];
  let startPrimary: StartPrimaryRow | null = null;
  let active = n2;
  let standby = n3;
  for (const event of [false, true]) {
    await writeWatches(event);
    for (const intervalS of INTERVALS) {
      const label = `interval ${intervalS}s${event ? " +watch" : ""}`;
      await registerAll(intervalS);
      await settle(active, standby, intervalS, `roles settled at interval ${intervalS}s`);
      const detail: FailoverRow["detail"] = [];
      const failures: string[] = [];
      for (let r = 0; r < runs; r++) {
        const A = active;
        const B = standby;
        await A.daemon.setBehaviour({ failStart: true });
        // settle() returns just after a check ran, so stopping now would always hit the same
        // phase of both checks' schedules (the worst one for the standby): stop at a random
        // phase instead, as a real failure would
        await sleep(Math.random() * intervalS * 1000);
        const t0 = performance.now();
        await A.daemon.stop();
        const m: { crit?: number; flip?: number; run?: number; pass?: number } = {};
        let flipped = true;
        const deadline = t0 + 20_000 + 4_000 * intervalS;
        while (performance.now() < deadline && m.pass === undefined) {
          const tick = performance.now();
          const [running, cA, cB, doc] = await Promise.all([
            m.run === undefined ? B.daemon.isRunning() : Promise.resolve(true),
            m.crit === undefined ? checkOf(A) : Promise.resolve(undefined),
            m.run !== undefined ? checkOf(B) : Promise.resolve(undefined),
            m.flip === undefined ? docOf() : Promise.resolve(null),
          ]);
          const now = performance.now();
          if (m.run === undefined && running) m.run = now - t0;
          if (m.crit === undefined && cA?.Status === "critical") m.crit = now - t0;
          if (m.flip === undefined && doc && same(doc.active_nodes, [B.agent.name])) {
            m.flip = now - t0;
          }
          if (
            m.run !== undefined && cB?.Status === "passing" &&
            cB.Output.includes('"role":"primary"')
          ) m.pass = now - t0;
          await sleep(Math.max(0, 25 - (performance.now() - tick)));
        }
        await A.daemon.setBehaviour({});
        if (m.pass === undefined) {
          failures.push(
            `${label} run ${r + 1}: ${JSON.stringify(m)} after ${
              Math.round(performance.now() - t0)
            } ms; ${A.agent.name} → ${B.agent.name}; doc ${JSON.stringify(await docOf())}`,
          );
          // put the world back: a flip that happened keeps its roles (the standby's daemon
          // started by hand if it never was); without a flip the roles stay as they were
          const doc = await docOf();
          flipped = !!doc && same(doc.active_nodes, [B.agent.name]);
          if (flipped && !(await B.daemon.isRunning())) await B.daemon.start();
          if (!flipped) {
            if (await B.daemon.isRunning()) await B.daemon.stop();
            if (!(await A.daemon.isRunning())) await A.daemon.start();
          }
        } else {
          detail.push({
            toActiveCriticalMs: m.crit ?? NaN,
            toFlipMs: m.flip ?? NaN,
            toRunningMs: m.run!,
            toPassingMs: m.pass,
          });
        }
        say(
          `  ${label} run ${r + 1}: critical ${fmt(m.crit)}, flip ${fmt(m.flip)}, ` +
            `running ${fmt(m.run)}, passing ${fmt(m.pass)}`,
        );
        if (flipped) {
          active = B;
          standby = A;
        }
        try {
          await settle(active, standby, intervalS, `roles settled after run ${r + 1}`);
        } catch (e) {
          // the roles did not settle: the rest of this cell would measure a broken world
          failures.push(`${label} after run ${r + 1}: ${(e as Error).message.split("\n")[0]}`);
          say(`  ${label}: ${failures.at(-1)}`);
          break;
        }
      }
      const col = (k: keyof FailoverRow["detail"][number]) =>
        detail.length ? stat(detail.map((d) => d[k]).filter((x) => Number.isFinite(x))) : null;
      failover.push({
        intervalS,
        event,
        fault: "service",
        runs: detail.length,
        critToRunningMs: detail.length
          ? stat(detail.map((d) => d.toRunningMs - d.toActiveCriticalMs).filter(Number.isFinite))
          : null,
        toRunningMs: col("toRunningMs"),
        toPassingMs: col("toPassingMs"),
        toActiveCriticalMs: col("toActiveCriticalMs"),
        toFlipMs: col("toFlipMs"),
        failures,
        detail,
      });
      notes.push(...failures);

      if (!event && intervalS === INTERVALS[0]) {
        // start-primary at the short interval (the settling after each switch is quicker)
        const spRuns = Math.min(runs, 3);
        const durations: number[] = [];
        const toRun: number[] = [];
        const spFailures: string[] = [];
        for (let r = 0; r < spRuns; r++) {
          const t0 = performance.now();
          const out = await new Deno.Command("service", {
            args: [standby.wrapper, "start-primary"],
            stdin: "null",
            stdout: "piped",
            stderr: "piped",
            signal: AbortSignal.timeout(90_000),
          }).output();
          const took = performance.now() - t0;
          const dec = new TextDecoder();
          if (!out.success) {
            spFailures.push(
              `start-primary run ${r + 1}: exit ${out.code}: ${
                (dec.decode(out.stdout) + dec.decode(out.stderr)).trim().split("\n").slice(-3)
                  .join(" | ")
              }`,
            );
            break;
          }
          durations.push(took);
          const B = standby;
          await waitFor("the new active's daemon running", () => B.daemon.isRunning(), {
            timeoutMs: 60_000,
            intervalMs: 20,
          });
          toRun.push(performance.now() - t0);
          say(
            `  start-primary run ${r + 1}: ${fmt(took)} (service running at ${fmt(toRun.at(-1))})`,
          );
          [active, standby] = [standby, active];
          await settle(active, standby, intervalS, `roles settled after start-primary ${r + 1}`);
        }
        startPrimary = {
          runs: durations.length,
          durationMs: durations.length ? stat(durations) : null,
          toRunningMs: toRun.length ? stat(toRun) : null,
          failures: spFailures,
        };
        notes.push(...spFailures);
      }
    }
  }
  failover.push(await nodeDeath(runs));
  notes.push(...failover.at(-1)!.failures);
  return { failover, startPrimary, notes };

  /** The active's agent killed (event path on): kill → the standby's service running. */
  async function nodeDeath(n: number): Promise<FailoverRow> {
    const intervalS = NODE_DEATH_INTERVAL;
    await writeWatches(true);
    await registerAll(intervalS);
    const toRun: number[] = [];
    const failures: string[] = [];
    for (let r = 0; r < Math.min(n, 3); r++) {
      const A = active;
      const B = standby;
      try {
        await settle(A, B, intervalS, `roles settled before node death ${r + 1}`);
        await sleep(Math.random() * intervalS * 1000);
        const t0 = performance.now();
        await A.agent.kill();
        await waitFor(
          "the standby's service running after node death",
          () => B.daemon.isRunning(),
          {
            timeoutMs: 60_000 + 6_000 * intervalS,
            intervalMs: 25,
          },
        );
        toRun.push(performance.now() - t0);
        say(`  node death at ${intervalS}s run ${r + 1}: running ${fmt(toRun.at(-1))}`);
      } catch (e) {
        failures.push(`node death run ${r + 1}: ${(e as Error).message.split("\n")[0]}`);
        say(`  node death run ${r + 1} FAILED: ${failures.at(-1)}`);
      } finally {
        // the dead host comes back with its service stopped (as after a reboot)
        await A.daemon.stop().catch(() => {});
        await A.agent.start().catch((e: unknown) => failures.push(`restart: ${e}`));
        await writeNodeWatches(A, true).catch(() => {});
        await registerAll(intervalS).catch(() => {});
      }
      active = B;
      standby = A;
    }
    return {
      intervalS,
      event: true,
      fault: "node",
      runs: toRun.length,
      toRunningMs: toRun.length ? stat(toRun) : null,
      critToRunningMs: null,
      toPassingMs: null,
      toActiveCriticalMs: null,
      toFlipMs: null,
      failures,
      detail: [],
    };
  }
}

/**
 * The HA timings an operator sets for a check interval (lib/config.ts haTimingProblem): the
 * interval itself, a lease that outlives two runs and a slow request (httpTimeout 5 s), and a
 * takeover delay past the lease, one interval and the fencing margin (5 s). At 1 s these are the
 * defaults.
 */
function haTimings(intervalS: number) {
  const leaseSeconds = Math.max(10, 2 * intervalS + 5);
  return {
    checkInterval: intervalS,
    leaseSeconds,
    takeoverDelay: Math.max(20, leaseSeconds + intervalS + 5),
  };
}

function fmt(ms: number | undefined): string {
  return ms === undefined ? "–" : `${(ms / 1000).toFixed(2)}s`;
}
