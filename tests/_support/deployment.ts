/**
 * An operator-style active/standby deployment on the test harness, for the clustering scenarios
 * (tests/e2e/ha/) and the HA bench (bench/ha.ts).
 *
 * One server and three client agents on loopback, every agent started inside the partition
 * harness's cgroups (so it can be cut off or frozen). The first one (or two) standby clients and
 * the first client as active form the group of the cluster document; the clients outside the
 * group only run an agent (a gossip peer, as another host of the datacenter would be).
 *
 * Each group node has what the README tells an operator to install, and nothing else:
 *   - a real LSB init script for its daemon (tests/harness/system.ts), and the two-line
 *     cluster-aware wrapper init script (`powerconsul service …`) in /etc/init.d;
 *   - an agent config file with the service, its `check service -s <daemon> -S <svc> -U -F
 *     <lock>` script check at 1 s through the dev launcher, `checks` watches running `watch
 *     critical|warning`, the `service` watch running `watch service -S <svc> -s <daemon>` (the
 *     event-driven takeover), and the promote/demote key watches running the wrapper;
 *   - its own powerconsul config file (log root, run directory, subVars) with short HA timings;
 *   - in KV: the trigger `triggers/<svc>/primary/critical` = `service @INIT start` (@INIT is the
 *     node's wrapper, so a start through a trigger goes through the wrapper like any other), and
 *     the cluster document.
 * Every host of the deployment is this one machine: names that are per host on a real fleet
 * (init scripts, lock files, run directories) are made unique per node here.
 *
 * @module
 */
import { join } from "node:path";
import { kvGet, kvHistory, kvPut } from "../_agent.ts";
import { LAUNCHER } from "../_cli.ts";
import { type AgentHandle, type ClusterHandle, startCluster, waitFor } from "../harness/consul.ts";
import { type PartitionHarness, partitionHarness } from "../harness/partition.ts";
import { type OverlapPoller, watchOverlap } from "../harness/observe.ts";
import {
  type InitScriptHandle,
  installInitScript,
  installWrapperScript,
  type SandboxDirs,
  sandboxDirs,
  uniqueName,
  writeConfig,
} from "../harness/system.ts";

/** HA timings written to every node's config (seconds). */
export interface HaTimings {
  checkInterval: number;
  leaseSeconds: number;
  takeoverDelay: number;
  failoverDamping: number;
  lockTimeout: number;
}

/** Short timings that keep every scenario under about a minute and a half. */
export const TEST_TIMINGS: Readonly<HaTimings> = Object.freeze({
  checkInterval: 1,
  leaseSeconds: 10,
  takeoverDelay: 18,
  failoverDamping: 2,
  lockTimeout: 20,
});

export interface DeployOptions {
  /** Standbys in the document (1 or 2; default 1). */
  standbys?: 1 | 2;
  /** Override some HA timings. */
  timings?: Partial<HaTimings>;
  /** The agents' `check_update_interval` (default: Consul's own default, 5m). */
  checkUpdateInterval?: string;
  /** Extra keys for every node's powerconsul config. */
  config?: Record<string, unknown>;
}

/** One node of the group. */
export interface HaNode {
  /** Node name (the agent's). */
  name: string;
  agent: AgentHandle;
  /** The daemon the node's check watches and its wrapper starts. */
  daemon: InitScriptHandle;
  /** Name of the wrapper init script (`service <wrapper> start-primary`). */
  wrapper: string;
  lockFile: string;
  /** This node's powerconsul config file. */
  config: string;
  logDir: string;
  runDir: string;
  /** `isRunning` of the daemon, under the node's name (for the overlap poller). */
  watched: { name: string; isRunning(): Promise<boolean> };
}

/** A cluster document as the test reads it. */
export interface Doc {
  active_nodes?: string[];
  standby_nodes?: string[];
  lock?: boolean;
  [k: string]: unknown;
}

export interface Deployment extends AsyncDisposable {
  cluster: ClusterHandle;
  net: PartitionHarness;
  /** The consulService name (unique per deployment). */
  svc: string;
  /** KV key of the cluster document. */
  key: string;
  checkId: string;
  timings: HaTimings;
  /** The group, active first, then the standbys in document order. */
  nodes: HaNode[];
  /** Client agents outside the group. */
  spare: AgentHandle[];
  node(name: string): HaNode;
  /** The document and its ModifyIndex, read from the server. */
  doc(): Promise<{ doc: Doc; index: number } | null>;
  /** Names of group nodes whose daemon runs now. */
  running(): Promise<string[]>;
  /** Start the overlap poller over every group daemon (100 ms at most between samples). */
  watch(): OverlapPoller;
  /** Record every version of the document until stop(). */
  history(): { stop(): Promise<Doc[]> };
  /**
   * Wait (bounded) for a settled group: document unlocked with exactly `actives` (by default
   * its original count) actives, each running its daemon, every other group daemon stopped, and
   * every group node's check passing on its own agent and in the catalog. Returns the active
   * names.
   */
  settled(timeoutMs?: number): Promise<string[]>;
  /** Read a group node's check from its own agent. */
  check(node: HaNode): Promise<{ Status: string; Output: string } | undefined>;
  /** Kill the node's powerconsul processes outside the agent (a guard), as a host crash would. */
  killLocalProcesses(node: HaNode): void;
  /** Names of trigger log files written on any group node. */
  triggerLogs(): Promise<string[]>;
  /** Append the logs worth reading to an error message. */
  explain(): Promise<string>;
  close(): Promise<void>;
}

function procArgs(pid: string): string[] | undefined {
  try {
    const raw = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
    return raw === "" ? undefined : raw.replace(/\0$/, "").split("\0");
  } catch {
    return undefined;
  }
}

/** Kill every process (not the test itself) whose argv mentions `needle` next to `guard`. */
function killByArgs(needle: string, also: (argv: string[]) => boolean): void {
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    const argv = procArgs(e.name);
    if (!argv || !argv.some((a) => a.includes(needle)) || !also(argv)) continue;
    try {
      Deno.kill(Number(e.name), "SIGKILL");
    } catch {
      // gone
    }
  }
}

/** Remove files one level below `root`'s subdirectories whose name contains `svc`. */
async function removeNamed(root: string, svc: string): Promise<void> {
  for (const f of await listFiles(root)) {
    const base = f.slice(f.lastIndexOf("/") + 1);
    if (base.includes(svc)) await Deno.remove(f).catch(() => {});
  }
}

async function readTail(path: string, lines = 15): Promise<string> {
  try {
    const all = (await Deno.readTextFile(path)).trimEnd().split("\n");
    return all.slice(-lines).join("\n");
  } catch {
    return "(none)";
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory) out.push(...await listFiles(p));
      else out.push(p);
    }
  } catch {
    // missing
  }
  return out;
}

function procStart(pid: number): string | undefined {
  try {
    const st = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return st.slice(st.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/**
 * Remove what a deployment of a killed test process left (its guards and daemons outlive it:
 * they are detached on purpose): every `/run/powerconsul/test-ha…` directory whose owner is gone.
 */
export async function sweepDeployments(): Promise<void> {
  let entries: Deno.DirEntry[] = [];
  try {
    entries = [...Deno.readDirSync("/run/powerconsul")];
  } catch {
    return;
  }
  for (const e of entries) {
    if (!e.isDirectory || !/^test-ha[0-9a-f]{8}$/.test(e.name)) continue;
    const dir = join("/run/powerconsul", e.name);
    let alive = false;
    try {
      const o = JSON.parse(Deno.readTextFileSync(join(dir, "owner.json")));
      alive = procStart(o.pid) === o.start;
    } catch {
      // no owner file: being created right now, or not ours to judge
      alive = true;
    }
    if (alive) continue;
    const svc = e.name.slice("test-".length);
    killByArgs(svc, (argv) => argv.includes("guard"));
    killByArgs(`pc-daemon-${svc}`, () => true);
    for await (const f of Deno.readDir("/etc/init.d")) {
      if (f.name.startsWith(`${svc}-`)) {
        await Deno.remove(join("/etc/init.d", f.name)).catch(() => {});
      }
    }
    for await (const f of Deno.readDir("/run")) {
      if (f.name.startsWith(`${svc}-`)) await Deno.remove(join("/run", f.name)).catch(() => {});
    }
    await removeNamed("/run/powerconsul", svc);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Build the deployment; dispose with `await using` (everything is torn down, even on failure). */
export async function deploy(opts: DeployOptions = {}): Promise<Deployment> {
  await sweepDeployments();
  const undo: (() => Promise<unknown> | unknown)[] = [];
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      while (undo.length) {
        try {
          await undo.pop()!();
        } catch {
          // keep undoing the rest
        }
      }
    })();
    return closing;
  };
  try {
    const timings: HaTimings = { ...TEST_TIMINGS, ...opts.timings };
    const standbys = opts.standbys ?? 1;
    const net = await partitionHarness();
    undo.push(() => net.close());
    const dirs: SandboxDirs = await sandboxDirs("ha");
    undo.push(() => dirs.remove());
    const cluster = await startCluster({
      clients: 3,
      launchPrefix: net.launchPrefix,
      extraHcl: [`check_update_interval = ${JSON.stringify(opts.checkUpdateInterval ?? "5m")}`],
    });
    undo.push(() => cluster.close());
    const svc = uniqueName("ha");
    const key = `cluster/${svc}`;
    const checkId = `${svc}-check`;
    const runRoot = `/run/powerconsul/test-${svc}`;
    await Deno.mkdir(runRoot, { recursive: true, mode: 0o700 });
    await Deno.writeTextFile(
      join(runRoot, "owner.json"),
      JSON.stringify({ pid: Deno.pid, start: procStart(Deno.pid) ?? "" }),
    );
    undo.push(() => Deno.remove(runRoot, { recursive: true }).catch(() => {}));
    // what powerconsul keeps per service on a host (lease, fence marker, guard pid, state)
    undo.push(() => removeNamed("/run/powerconsul", svc));
    const clients = cluster.agents.filter((a) => a.role === "client");
    const group = clients.slice(0, 1 + standbys);
    const spare = clients.slice(1 + standbys);
    const nodes: HaNode[] = [];
    for (const [i, agent] of group.entries()) {
      const tag = `n${i + 1}`;
      const daemon = await installInitScript(`${svc}-d${i + 1}`);
      undo.push(() => daemon.remove());
      const wrapper = `${svc}-w${i + 1}`;
      const logDir = join(dirs.logDir, tag);
      const runDir = join(runRoot, tag);
      await Deno.mkdir(runDir, { recursive: true, mode: 0o700 });
      const cfgDir = join(dirs.configDir, tag);
      await Deno.mkdir(cfgDir, { recursive: true });
      const config = await writeConfig(cfgDir, {
        logDir,
        clusterKey: "cluster",
        subVars: { INIT: wrapper },
        switchTimeout: 30,
        triggerCooldown: 1,
        triggerBurst: 1000,
        ...timings,
        ...opts.config,
      });
      const lockFile = join(runDir, `${wrapper}.lock`);
      const path = await installWrapperScript({
        name: wrapper,
        consulService: svc,
        services: [daemon.name],
        lockFile,
        config,
        agentAddr: agent.httpAddr,
        net: cluster.netAllow,
        launcher: LAUNCHER,
      });
      undo.push(() => Deno.remove(path).catch(() => {}));
      // a guard the wrapper started is detached from everything: find it by its daemon's name
      undo.push(() => killByArgs(daemon.name, (argv) => argv.includes("guard")));
      nodes.push({
        name: agent.name,
        agent,
        daemon,
        wrapper,
        lockFile,
        config,
        logDir,
        runDir,
        watched: { name: agent.name, isRunning: () => daemon.isRunning() },
      });
    }
    const env = (n: HaNode) => [
      "/usr/bin/env",
      `POWERCONSUL_NET=${cluster.netAllow}`,
      `CONSUL_HTTP_ADDR=${n.agent.httpAddr}`,
    ];
    const doc: Doc = {
      active_nodes: [nodes[0]!.name],
      standby_nodes: nodes.slice(1).map((n) => n.name),
    };
    await kvPut(cluster.server, key, JSON.stringify(doc));
    await kvPut(
      cluster.server,
      `triggers/${svc}/primary/critical`,
      "/usr/sbin/service @INIT start",
    );
    // the active starts its services the operator's way, through its wrapper init script, before
    // any check runs: a first check run that found them stopped would look like a failure
    const first = nodes[0]!;
    const started = await new Deno.Command("/usr/sbin/service", {
      args: [first.wrapper, "start"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    if (!started.success) {
      const dec = new TextDecoder();
      throw new Error(
        `service ${first.wrapper} start: ${dec.decode(started.stdout)}${
          dec.decode(started.stderr)
        }`,
      );
    }

    for (const n of nodes) {
      const agentConfig = {
        service: {
          id: svc,
          name: svc,
          tags: ["ha"],
          enable_tag_override: true,
          check: {
            id: checkId,
            args: [
              ...env(n),
              LAUNCHER,
              "check",
              "service",
              "-s",
              n.daemon.name,
              "-S",
              svc,
              "-U",
              "-F",
              n.lockFile,
              "--config",
              n.config,
            ],
            interval: `${timings.checkInterval}s`,
            timeout: "20s",
          },
        },
        watches: nodeWatches({
          run: [...env(n), LAUNCHER],
          svc,
          node: n.name,
          daemon: n.daemon.name,
          wrapper: n.wrapper,
          config: n.config,
          states: ["critical", "warning"],
          takeover: true,
        }),
      };
      await Deno.writeTextFile(
        join(n.agent.configDir, "powerconsul-ha.json"),
        JSON.stringify(agentConfig, null, 2),
      );
      await n.agent.reload();
    }
    const byName = new Map(nodes.map((n) => [n.name, n]));
    const readDoc = async () => {
      const e = await kvGet(cluster.server, key);
      return e?.value ? { doc: JSON.parse(e.value) as Doc, index: e.modifyIndex } : null;
    };
    const running = async () => {
      const states = await Promise.all(nodes.map((n) => n.daemon.isRunning()));
      return nodes.filter((_, i) => states[i]).map((n) => n.name);
    };
    const check = async (n: HaNode) => {
      const r = await n.agent.api("/v1/agent/checks");
      const all = await r.json() as Record<string, { Status: string; Output: string }>;
      return all[checkId];
    };
    const wantActives = doc.active_nodes!.length;
    let lastSeen = "";
    const d: Deployment = {
      cluster,
      net,
      svc,
      key,
      checkId,
      timings,
      nodes,
      spare,
      node(name) {
        const n = byName.get(name);
        if (!n) throw new Error(`${name} is not in the group`);
        return n;
      },
      doc: readDoc,
      running,
      watch: () => watchOverlap(nodes.map((n) => n.watched), { intervalMs: 50 }),
      history() {
        const h = kvHistory(cluster.server, key);
        return { stop: async () => (await h.stop()) as Doc[] };
      },
      async settled(timeoutMs = 60_000) {
        return await waitFor(
          "the group to settle (one unlocked document, daemons as it says)",
          async () => {
            const cur = await readDoc();
            const run = await running();
            lastSeen = `doc ${JSON.stringify(cur?.doc)}; running ${JSON.stringify(run)}`;
            if (!cur || cur.doc.lock) return false;
            const actives = cur.doc.active_nodes ?? [];
            if (actives.length !== wantActives) return false;
            if (
              JSON.stringify([...run].sort()) !== JSON.stringify([...actives].sort())
            ) return false;
            for (const n of nodes) {
              const c = await check(n);
              lastSeen += `; ${n.name} ${c?.Status} ${c?.Output.slice(0, 160)}`;
              if (c?.Status !== "passing") return false;
            }
            // and the servers know it: a standby decides from the catalog, which an agent brings
            // up to date only some time after its own checks pass
            const r = await cluster.server.api(`/v1/health/service/${svc}`);
            const entries = await r.json() as {
              Node: { Node: string };
              Checks: { Status: string }[];
            }[];
            for (const n of nodes) {
              const e = entries.find((x) => x.Node.Node === n.name);
              if (!e || !e.Checks.every((c) => c.Status === "passing")) {
                lastSeen += `; catalog: ${n.name} ${e ? "not passing" : "not registered"}`;
                return false;
              }
            }
            return actives;
          },
          { timeoutMs, intervalMs: 200, onTimeout: () => `last seen: ${lastSeen}` },
        );
      },
      check,
      killLocalProcesses(n) {
        killByArgs(n.daemon.name, (argv) => argv.includes("guard"));
      },
      async triggerLogs() {
        const out: string[] = [];
        for (const n of nodes) {
          out.push(
            ...(await listFiles(join(n.logDir, "trigger"))).filter((f) => f.endsWith(".log")),
          );
        }
        return out;
      },
      async explain() {
        const parts: string[] = [];
        for (const n of nodes) {
          parts.push(
            `--- ${n.name} check log ---\n` +
              await readTail(join(n.logDir, "check", `service.${svc}.log`)),
          );
          for (const f of await listFiles(n.logDir)) {
            if (f.includes("/check/")) continue;
            parts.push(
              `--- ${n.name} ${f.slice(n.logDir.length + 1)} ---\n${await readTail(f, 8)}`,
            );
          }
        }
        return "\n" + parts.join("\n");
      },
      close,
      [Symbol.asyncDispose]: close,
    };
    return d;
  } catch (e) {
    await close();
    throw e;
  }
}

/** Seconds since `t0` (performance.now() clock), rounded to 0.1 s. */
export function since(t0: number): number {
  return Math.round((performance.now() - t0) / 100) / 10;
}

/**
 * One node's agent-config watches as the README deploys them: a `checks` watch per state running
 * `watch <state>`, the event-driven takeover (`watch service`, on every node that may take over)
 * when asked, and the promote/demote key watches running the init-script wrapper. `run` is the
 * command line before the powerconsul arguments (environment, launcher).
 */
export function nodeWatches(o: {
  run: string[];
  svc: string;
  node: string;
  daemon: string;
  wrapper: string;
  config: string;
  states: readonly string[];
  takeover: boolean;
}): Record<string, unknown>[] {
  const takeover = {
    type: "service",
    service: o.svc,
    args: [...o.run, "watch", "service", "-S", o.svc, "-s", o.daemon, "--config", o.config],
  };
  return [
    ...o.states.map((state) => ({
      type: "checks",
      state,
      args: [...o.run, "watch", state, "--config", o.config],
    })),
    ...(o.takeover ? [takeover] : []),
    ...(["promote", "demote"] as const).map((kind) => ({
      type: "key",
      key: `service/${o.svc}/${o.node}/${kind}`,
      args: [`/etc/init.d/${o.wrapper}`, kind],
    })),
  ];
}
