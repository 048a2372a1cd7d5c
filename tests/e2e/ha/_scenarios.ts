/**
 * The clustering acceptance scenarios, shared by the scenario tests (tests/e2e/ha/*_test.ts, one
 * run each) and the HA bench (bench/ha.ts, several runs each).
 *
 * Every scenario runs on a fresh operator-style deployment (tests/_support/deployment.ts), waits
 * for the group to settle, then starts two observers before the fault: the overlap poller (every
 * group daemon sampled at most 100 ms apart: two running at once is a split brain) and a recorder
 * of every version of the cluster document. After the fault is healed it waits for the group to
 * settle again and checks: no sample with two daemons running, exactly the expected actives, and
 * no flip back (once a document stopped listing the old active, no later one lists it again).
 * A fault lasts as long as the scenario says (that wait is the fault, not a guess at timing);
 * every other wait is a bounded poll for a condition.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { waitFor } from "../../harness/consul.ts";
import {
  deploy,
  type Deployment,
  type DeployOptions,
  type Doc,
  type HaNode,
  since,
} from "../../_support/deployment.ts";

/** The figures one run of a scenario produced. */
export interface Outcome {
  scenario: string;
  /** Seconds from the fault to another node's daemon running (null: no takeover expected). */
  takeoverSeconds: number | null;
  /** Longest stretch with two or more daemons running (0 when never). */
  maxOverlapSeconds: number;
  /** Longest stretch with no daemon running, in seconds. */
  maxOutageSeconds: number;
  /** The poller's real resolution (longest gap between two samples). */
  maxGapMs: number;
  /** Scenario-specific figures (seconds). */
  extra: Record<string, number | null>;
}

export interface Scenario {
  id: string;
  title: string;
  deploy?: DeployOptions;
  /** Inject the fault, heal it, return the takeover time (or null). Assert as it goes. */
  run(d: Deployment, rec: Recorder): Promise<number | null>;
  /** The actives expected once settled, given the original active and standbys. */
  expectActive?: (old: HaNode, standbys: HaNode[]) => string[] | "any-standby";
  /** The old active legitimately becomes active again (a switch, then a failover back). */
  returns?: boolean;
}

/** Where a scenario puts its own figures. */
export interface Recorder {
  extra: Record<string, number | null>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Wait until a group node other than `old` runs its daemon; seconds since t0. */
async function waitTakeover(
  d: Deployment,
  old: string,
  t0: number,
  timeoutMs: number,
): Promise<number> {
  await waitFor(`a node other than ${old} to run the service`, async () => {
    const run = await d.running();
    return run.some((n) => n !== old);
  }, { timeoutMs, intervalMs: 50, onTimeout: () => "" });
  return since(t0);
}

/** Longest stretch with nothing running, sampled like the overlap poller. */
function watchOutage(d: Deployment) {
  let stop = false;
  let longest = 0;
  let since0: number | undefined;
  const loop = (async () => {
    while (!stop) {
      const now = performance.now();
      const none = (await d.running().catch(() => ["?"])).length === 0;
      if (none && since0 === undefined) since0 = now;
      if (!none && since0 !== undefined) {
        longest = Math.max(longest, now - since0);
        since0 = undefined;
      }
      await sleep(50 - (performance.now() - now));
    }
    if (since0 !== undefined) longest = Math.max(longest, performance.now() - since0);
  })();
  return {
    async stop(): Promise<number> {
      stop = true;
      await loop;
      return Math.round(longest / 100) / 10;
    },
  };
}

/** Kill a node's daemon outright (SIGKILL via its pid file), as a crash would. */
async function killDaemon(n: HaNode): Promise<void> {
  let pid = "";
  try {
    pid = (await Deno.readTextFile(n.daemon.pidFile)).trim();
  } catch {
    return;
  }
  if (!/^\d+$/.test(pid)) return;
  try {
    Deno.kill(Number(pid), "SIGKILL");
  } catch {
    // gone
  }
  await waitFor(`${n.daemon.name} to die`, async () => !(await n.daemon.isRunning()), {
    timeoutMs: 5_000,
  });
}

/** Lines the node's check wrote so far (one per run). */
async function checkRuns(d: Deployment, n: HaNode): Promise<number> {
  try {
    const text = await Deno.readTextFile(join(n.logDir, "check", `service.${d.svc}.log`));
    return text.split("\n").filter((l) => l.includes(` check ${d.svc} `)).length;
  } catch {
    return 0;
  }
}

/** Wait (bounded) until every listed node's check has run `more` more times. */
async function moreRuns(d: Deployment, nodes: HaNode[], more: number): Promise<void> {
  const base = await Promise.all(nodes.map((n) => checkRuns(d, n)));
  await waitFor(`${more} more check runs on ${nodes.map((n) => n.name).join(", ")}`, async () => {
    const now = await Promise.all(nodes.map((n) => checkRuns(d, n)));
    return now.every((c, i) => c >= base[i]! + more);
  }, { timeoutMs: 30_000, intervalMs: 200 });
}

async function service(wrapper: string, action: string, timeoutMs = 90_000) {
  const out = await new Deno.Command("/usr/sbin/service", {
    args: [wrapper, action],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const dec = new TextDecoder();
  return { ok: out.success, text: (dec.decode(out.stdout) + dec.decode(out.stderr)).trim() };
}

/** Run `fault` for exactly `ms`, then `heal`, while `during` runs; returns during's result. */
async function withFault<T>(ms: number, heal: () => Promise<void>, during: () => Promise<T>) {
  const t0 = performance.now();
  let result: T;
  try {
    result = await during();
    await sleep(ms - (performance.now() - t0));
  } finally {
    await heal();
  }
  return result;
}

const serfBlip = async (d: Deployment, node: HaNode, status: "critical" | "passing") => {
  const r = await d.cluster.server.api("/v1/catalog/register", {
    method: "PUT",
    body: JSON.stringify({
      Node: node.name,
      Address: node.agent.ip,
      SkipNodeUpdate: true,
      Check: {
        CheckID: "serfHealth",
        Name: "Serf Health Status",
        Status: status,
        Output: status === "critical"
          ? "Agent not live or unreachable (test blip)"
          : "Agent alive and reachable",
      },
    }),
  });
  assert.equal(await r.text(), "true", "catalog register of the serfHealth blip");
};

const T = (d: Deployment) => d.timings;
/** Bound for an unreachable-path takeover after the fault: detection + delay + start. */
const slowBound = (d: Deployment) => (T(d).takeoverDelay + 40) * 1000;

export const SCENARIOS: Scenario[] = [
  {
    id: "frozen",
    title: "active agent frozen 30 s (SIGSTOP)",
    async run(d) {
      const old = d.nodes[0]!;
      const t0 = performance.now();
      const frozen = await d.net.freeze(old.agent);
      return await withFault(
        30_000,
        () => frozen.thaw(),
        () => waitTakeover(d, old.name, t0, slowBound(d)),
      );
    },
  },
  {
    id: "partition-full",
    title: "active fully partitioned 45 s",
    async run(d) {
      const old = d.nodes[0]!;
      const t0 = performance.now();
      const cut = await d.net.cut(old.agent, { from: "all" });
      return await withFault(
        45_000,
        () => cut.heal(),
        () => waitTakeover(d, old.name, t0, slowBound(d)),
      );
    },
  },
  {
    id: "partition-servers",
    title: "active cut from the servers only 45 s",
    async run(d) {
      const old = d.nodes[0]!;
      assert.ok(d.spare.length + d.nodes.length - 1 >= 2, "needs two other clients");
      const t0 = performance.now();
      const cut = await d.net.cut(old.agent, { from: "servers" });
      return await withFault(
        45_000,
        () => cut.heal(),
        () => waitTakeover(d, old.name, t0, slowBound(d)),
      );
    },
  },
  {
    id: "crash",
    title: "active crashes (agent, service and guard killed) and returns",
    async run(d) {
      const old = d.nodes[0]!;
      const t0 = performance.now();
      await Promise.all([old.agent.kill(), killDaemon(old)]);
      d.killLocalProcesses(old);
      const took = await waitTakeover(d, old.name, t0, slowBound(d));
      await old.agent.start();
      return took;
    },
  },
  {
    id: "leader-restart",
    title: "server leader restarts (no takeover wanted)",
    expectActive: (old) => [old.name],
    async run(d, rec) {
      const t0 = performance.now();
      await d.cluster.server.stop();
      await d.cluster.server.start();
      rec.extra.serverBackSeconds = since(t0);
      return null;
    },
  },
  {
    id: "service-dies",
    title: "active's service dies and cannot restart (node healthy)",
    async run(d) {
      const old = d.nodes[0]!;
      await old.daemon.setBehaviour({ failStart: true });
      // a random phase of the check schedules, as a real failure would hit
      await sleep(Math.random() * T(d).checkInterval * 1000);
      const t0 = performance.now();
      await old.daemon.stop();
      const took = await waitTakeover(d, old.name, t0, 40_000);
      await old.daemon.setBehaviour({});
      return took;
    },
  },
  {
    id: "serf-blip",
    title: "serfHealth blip shorter than the damping window: no flip, no trigger",
    expectActive: (old) => [old.name],
    async run(d) {
      const old = d.nodes[0]!;
      const before = await d.doc();
      const blipMs = Math.min(1_500, T(d).failoverDamping * 1000 * 0.75);
      const others = d.nodes.slice(1);
      // the standbys run their checks during the blip: it is seen
      await serfBlip(d, old, "critical");
      try {
        await sleep(blipMs);
      } finally {
        await serfBlip(d, old, "passing");
      }
      // the damping window and more pass with the standbys still checking
      await moreRuns(d, others, Math.ceil(T(d).failoverDamping / T(d).checkInterval) + 3);
      const after = await d.doc();
      assert.equal(after?.index, before?.index, `the document changed: ${JSON.stringify(after)}`);
      assert.deepEqual(await d.triggerLogs(), [], "a trigger ran");
      return null;
    },
  },
  {
    id: "restartable",
    title: "active's service killed but restartable: restarts in place",
    // The claim is that an active healing itself keeps its role with the default damping: its
    // trigger's heal mark ("healing", then "healed") holds the standbys off while it restarts.
    expectActive: (old) => [old.name],
    async run(d, rec) {
      const old = d.nodes[0]!;
      const before = await d.doc();
      const t0 = performance.now();
      await killDaemon(old);
      await waitFor(`${old.daemon.name} restarted by its trigger`, () => old.daemon.isRunning(), {
        timeoutMs: 30_000,
        intervalMs: 50,
      });
      rec.extra.restartSeconds = since(t0);
      await moreRuns(d, d.nodes, 3);
      const after = await d.doc();
      assert.equal(after?.index, before?.index, `the document changed: ${JSON.stringify(after)}`);
      return null;
    },
  },
  {
    id: "switch-lock",
    title: "start-primary: the lock is gone soon after the new active runs",
    expectActive: (_old, standbys) => [standbys[0]!.name],
    async run(d, rec) {
      const old = d.nodes[0]!;
      const next = d.nodes[1]!;
      const t0 = performance.now();
      const sp = service(next.wrapper, "start-primary");
      const took = await waitTakeover(d, old.name, t0, 60_000);
      const runningAt = performance.now();
      let lockedDoc: Doc | undefined;
      await waitFor("the switch lock to clear after the new active runs", async () => {
        const cur = await d.doc();
        lockedDoc = cur?.doc;
        return cur !== null && !cur.doc.lock;
      }, {
        timeoutMs: (5 * T(d).checkInterval + 5) * 1000,
        intervalMs: 50,
        onTimeout: () => `document: ${JSON.stringify(lockedDoc)}`,
      });
      rec.extra.lockClearedSeconds = since(runningAt);
      const r = await sp;
      assert.ok(r.ok, `start-primary failed: ${r.text}`);
      return took;
    },
  },
  {
    id: "switch-fail",
    title: "start-primary, then the new active fails at once: it is replaced",
    expectActive: (old) => [old.name],
    returns: true,
    async run(d, rec) {
      const old = d.nodes[0]!;
      const next = d.nodes[1]!;
      await next.daemon.setBehaviour({});
      const t0 = performance.now();
      const sp = service(next.wrapper, "start-primary");
      await waitTakeover(d, old.name, t0, 60_000);
      // the new active dies right after the switch, unable to restart
      await next.daemon.setBehaviour({ failStart: true });
      const t1 = performance.now();
      await next.daemon.stop();
      await waitFor(`${old.name} to take the service back`, () => old.daemon.isRunning(), {
        timeoutMs: (T(d).lockTimeout + T(d).takeoverDelay + 30) * 1000,
        intervalMs: 50,
      });
      rec.extra.switchSeconds = since(t0);
      const r = await sp;
      assert.ok(r.ok, `start-primary failed: ${r.text}`);
      await next.daemon.setBehaviour({});
      return since(t1);
    },
  },
  {
    id: "clean-shutdown",
    title: "clean shutdown of the active (agent leaves first, then the service stops)",
    async run(d, rec) {
      const old = d.nodes[0]!;
      const t0 = performance.now();
      await old.agent.stop();
      await old.daemon.stop();
      d.killLocalProcesses(old);
      const took = await waitTakeover(d, old.name, t0, slowBound(d));
      rec.extra.withinDelay = took <= T(d).takeoverDelay + 10 ? 1 : 0;
      await old.agent.start();
      return took;
    },
  },
  {
    id: "agent-restart",
    title: "active's agent restarts while its service cannot start (default check_update_interval)",
    async run(d, rec) {
      const old = d.nodes[0]!;
      await old.daemon.setBehaviour({ failStart: true });
      const t0 = performance.now();
      await old.agent.stop();
      await old.daemon.stop();
      await old.agent.start();
      rec.extra.agentBackSeconds = since(t0);
      const took = await waitTakeover(d, old.name, t0, slowBound(d));
      await old.daemon.setBehaviour({});
      return took;
    },
  },
  {
    id: "two-standbys",
    title: "one active and two standbys, the active dies: exactly one new active",
    deploy: { standbys: 2 },
    expectActive: () => "any-standby",
    async run(d) {
      const old = d.nodes[0]!;
      await old.daemon.setBehaviour({ failStart: true });
      const t0 = performance.now();
      await old.daemon.stop();
      const took = await waitTakeover(d, old.name, t0, 40_000);
      await old.daemon.setBehaviour({});
      return took;
    },
  },
];

export function scenario(id: string): Scenario {
  const s = SCENARIOS.find((x) => x.id === id);
  if (!s) throw new Error(`no scenario ${id}`);
  return s;
}

/**
 * One run of a scenario on a fresh deployment, with every check of the module comment.
 * Throws (an AssertionError or a wait's timeout, with the nodes' logs) when one fails.
 */
export async function runScenario(s: Scenario): Promise<Outcome> {
  await using d = await deploy(s.deploy ?? {});
  const old = d.nodes[0]!;
  const standbys = d.nodes.slice(1);
  try {
    await d.settled(90_000);
    const history = d.history();
    const outage = watchOutage(d);
    const poller = d.watch();
    const rec: Recorder = { extra: {} };
    let takeover: number | null = null;
    let report;
    let outageSeconds = 0;
    let docs: Doc[] = [];
    let failure: unknown;
    try {
      takeover = await s.run(d, rec);
      const actives = await d.settled(120_000);
      const want = s.expectActive?.(old, standbys) ?? "any-standby";
      if (want === "any-standby") {
        assert.equal(actives.length, 1, `actives ${actives}`);
        assert.ok(standbys.some((n) => n.name === actives[0]), `${actives} is no standby`);
      } else {
        assert.deepEqual(actives, want);
      }
    } catch (e) {
      failure = e;
    } finally {
      report = await poller.stop();
      outageSeconds = await outage.stop();
      docs = await history.stop();
    }
    const overlap = report.overlapSamples === 0
      ? ""
      : `two services ran at once for up to ${report.maxOverlapSeconds.toFixed(1)} s`;
    if (failure !== undefined) {
      const msg = failure instanceof Error ? failure.message : String(failure);
      throw new Error(
        `${msg}${overlap ? `\n(and ${overlap})` : ""}\ndocuments: ${JSON.stringify(docs)}`,
      );
    }
    assert.equal(overlap, "", overlap);
    assert.ok(report.maxGapMs <= 1_000, `the poller stalled for ${report.maxGapMs} ms`);
    const listsOld = (doc: Doc) => (doc.active_nodes ?? []).includes(old.name);
    const firstGone = docs.findIndex((x) => !listsOld(x));
    if (firstGone >= 0 && !s.returns) {
      const back = docs.slice(firstGone).find(listsOld);
      assert.equal(back, undefined, `flipped back: ${JSON.stringify(docs)}`);
    }
    if (Deno.env.get("HA_EXPLAIN")) {
      // deno-lint-ignore no-console
      console.log(`documents: ${JSON.stringify(docs)}${await d.explain()}`);
    }
    return {
      scenario: s.id,
      takeoverSeconds: takeover,
      maxOverlapSeconds: report.maxOverlapSeconds,
      maxOutageSeconds: outageSeconds,
      maxGapMs: Math.round(report.maxGapMs),
      extra: rec.extra,
    };
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const err = new Error(`${s.id}: ${msg}${await d.explain()}`);
    if (e instanceof Error && e.stack) err.stack = `${err.message}\n${e.stack}`;
    throw err;
  }
}

/** The line a test prints for its figures. */
export function figures(o: Outcome): string {
  const extra = Object.entries(o.extra).map(([k, v]) => ` ${k} ${v ?? "–"}`).join("");
  return `${o.scenario}: takeover ${o.takeoverSeconds ?? "–"} s, max overlap ` +
    `${o.maxOverlapSeconds} s, longest outage ${o.maxOutageSeconds} s, poller gap ` +
    `${o.maxGapMs} ms${extra}`;
}
