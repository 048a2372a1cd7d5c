// The lease and its guard against real agents, real init scripts and the real `service`
// command: an active whose agent is frozen is fenced by its guard within the lease; `service
// stop` leaves no guard behind; a cluster-wide server outage fences with serverOutage "fence"
// and keeps the active running with "failsafe".
import assert from "node:assert/strict";
import { join } from "node:path";
import { type AgentHandle, type ClusterHandle, startCluster, waitFor } from "../harness/consul.ts";
import { type PartitionHarness, partitionHarness } from "../harness/partition.ts";
import {
  type InitScriptHandle,
  installInitScript,
  installWrapperScript,
  sandboxDirs,
  uniqueName,
  writeConfig,
} from "../harness/system.ts";
import { agentChecks, kvPut, register } from "../_agent.ts";
import { LAUNCHER } from "../_cli.ts";
import { agentTest } from "../_support/agent.ts";

const LEASE_S = 4;
/** A server's graceful leave holds the agents' reads for a few seconds: a longer lease. */
const OUTAGE_LEASE_S = 10;
/** The guard polls every 0.5 s and stops an init script in well under a second. */
const FENCE_BOUND_MS = (LEASE_S + 6) * 1000;

interface Node {
  agent: AgentHandle;
  daemon: InitScriptHandle;
  wrapper: string;
}

interface Setup {
  cluster: ClusterHandle;
  /** Only for tests that freeze an agent. */
  net: PartitionHarness | null;
  nodes: [Node, Node];
  svc: string;
  logDir: string;
  cleanup(): Promise<void>;
}

async function service(args: string[]) {
  const out = await new Deno.Command("service", {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, text: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

/** Server + two clients; the first active, the second standby; agent-config-style checks. */
async function setup(
  tag: string,
  extra: Record<string, unknown> = {},
  leaseSeconds = LEASE_S,
  freezable = false,
): Promise<Setup> {
  const undo: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const u of undo.reverse()) await u().catch(() => {});
  };
  try {
    const net = freezable ? await partitionHarness() : null;
    if (net) undo.push(() => net.close());
    const dirs = await sandboxDirs(tag);
    undo.push(() => dirs.remove());
    const cluster = await startCluster({
      clients: 2,
      ...(net ? { launchPrefix: net.launchPrefix } : {}),
      env: (a) => ({ POWERCONSUL_NET: a.httpAddr, CONSUL_HTTP_ADDR: a.httpAddr }),
    });
    undo.push(() => cluster.close());
    // a service name of its own: lease files are per service and node on this shared host
    const svc = uniqueName("pcl");
    const config = await writeConfig(dirs.configDir, {
      logDir: dirs.logDir,
      clusterKey: "cluster",
      leaseSeconds,
      // a read the agent holds for want of a server ends well inside the lease
      httpTimeout: 1,
      ...extra,
    });
    const nodes: Node[] = [];
    for (const [i, agent] of cluster.agents.filter((a) => a.role === "client").entries()) {
      const daemon = await installInitScript(`${svc}-d${i}`);
      undo.push(() => daemon.remove());
      const wrapper = `${svc}-w${i}`;
      const path = await installWrapperScript({
        name: wrapper,
        consulService: svc,
        services: [daemon.name],
        lockFile: join(dirs.lockDir, `${wrapper}.lock`),
        config,
        agentAddr: agent.httpAddr,
        net: cluster.netAllow,
        launcher: LAUNCHER,
      });
      undo.push(() => Deno.remove(path));
      await register(agent, {
        ID: svc,
        Name: svc,
        Check: {
          CheckID: `${svc}-check`,
          Args: [
            "/usr/bin/env",
            `POWERCONSUL_NET=${cluster.netAllow}`,
            `CONSUL_HTTP_ADDR=${agent.httpAddr}`,
            LAUNCHER,
            "check",
            "service",
            "-s",
            daemon.name,
            "-S",
            svc,
            "--config",
            config,
          ],
          Interval: "1s",
          Timeout: "20s",
        },
      });
      nodes.push({ agent, daemon, wrapper });
    }
    await kvPut(
      cluster.server,
      `cluster/${svc}`,
      JSON.stringify({
        active_nodes: [nodes[0]!.agent.name],
        standby_nodes: [nodes[1]!.agent.name],
      }),
    );
    return { cluster, net, nodes: nodes as [Node, Node], svc, logDir: dirs.logDir, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

const leaseFile = (s: Setup, n: Node) => `/run/powerconsul/lease/${s.svc}@${n.agent.name}`;
const fenceFile = (s: Setup, n: Node) => `/run/powerconsul/fenced/${s.svc}@${n.agent.name}`;
const pidFile = (s: Setup, n: Node) => `/run/powerconsul/guard/${s.svc}@${n.agent.name}.pid`;

function readJson(path: string): Record<string, unknown> | null {
  try {
    return JSON.parse(Deno.readTextFileSync(path));
  } catch {
    return null;
  }
}

/** Every log under the test's log root, for failure messages. */
function logsOf(s: Setup): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of Deno.readDirSync(d)) {
      const p = join(d, e.name);
      if (e.isDirectory) walk(p);
      else out.push(`--- ${p}\n${Deno.readTextFileSync(p).split("\n").slice(-15).join("\n")}`);
    }
  };
  try {
    walk(s.logDir);
  } catch (e) {
    out.push(`(no logs: ${e})`);
  }
  out.push(`lease: ${JSON.stringify(readJson(leaseFile(s, s.nodes[0])))}`);
  return out.join("\n");
}

/** Processes whose command line runs `guard` for this service. */
function guardProcesses(svc: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const argv = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0");
      if (argv.includes("guard") && argv.includes(svc)) out.push(Number(e.name));
    } catch {
      // gone
    }
  }
  return out;
}

/** Start the active through its wrapper and wait until its own check renews the lease. */
async function startActive(s: Setup): Promise<Node> {
  const [n1] = s.nodes;
  const r = await service([n1.wrapper, "start"]);
  assert.equal(r.code, 0, r.text);
  assert.ok(await n1.daemon.isRunning());
  assert.ok(readJson(pidFile(s, n1)), "start wrote no guard pid file");
  await waitFor("the active's check to renew the lease", () => {
    return Promise.resolve(readJson(leaseFile(s, n1))?.source === "check");
  }, { timeoutMs: 30_000 });
  await waitFor("the active's check passing", async () => {
    return (await agentChecks(n1.agent))[`${s.svc}-check`]?.Status === "passing";
  }, { timeoutMs: 30_000 });
  return n1;
}

agentTest(
  "lease: an active whose agent is frozen is fenced by its guard within the lease; the role hook hears it once",
  async () => {
    const out = await Deno.makeTempFile({ prefix: "pc-fence-hook-" });
    const script = `echo "$POWERCONSUL_HOOK_NODE $POWERCONSUL_HOOK_EVENT $1 $2 $3 $4" >> ${out}`;
    const s = await setup(
      "lease-freeze",
      {
        roleHook: ["/bin/sh", "-c", script, "hook"],
      },
      LEASE_S,
      true,
    );
    const hooked = (event: string) =>
      Deno.readTextFileSync(out).split("\n").filter((l) => l.split(" ")[1] === event);
    try {
      const n1 = await startActive(s);
      const frozen = await s.net!.freeze(n1.agent);
      const t0 = performance.now();
      try {
        await waitFor("the guard to stop the frozen active's service", async () => {
          return !(await n1.daemon.isRunning());
        }, { timeoutMs: FENCE_BOUND_MS, intervalMs: 100 });
        // deno-lint-ignore no-console -- the figure goes into the test output
        console.log(
          `frozen agent: service stopped ${
            ((performance.now() - t0) / 1000).toFixed(1)
          } s after the freeze (lease ${LEASE_S} s)`,
        );
        const marker = readJson(fenceFile(s, n1));
        assert.match(String(marker?.reason), /^lease expired at \d{4}-/);
        assert.equal(typeof marker?.at, "string");
        // the hook runs after the stop, in the guard, with the fence's reason
        const fenced = await waitFor("the role hook to hear the fence", () => {
          const l = hooked("fenced");
          return Promise.resolve(l.length > 0 && l);
        }, { timeoutMs: 10_000 });
        assert.deepEqual(fenced, [
          `${n1.agent.name} fenced ${s.svc} primary fenced ${marker?.reason}`,
        ]);
      } finally {
        await frozen.thaw();
      }
      // the thawed agent's check confirms the role again: a fresh lease clears the marker, and
      // the check said why the service was down meanwhile
      await waitFor("the fence marker cleared by a fresh lease", () => {
        return Promise.resolve(readJson(fenceFile(s, n1)) === null);
      }, { timeoutMs: 60_000 });
      const log = Deno.readTextFileSync(join(s.logDir, "guard", `${s.svc}@${n1.agent.name}.log`));
      assert.match(log, /WARN guard \S+ fenced: lease expired at .*: stopped /);
      assert.equal(hooked("fenced").length, 1, "once per fence, however long the lapse");
    } finally {
      await s.cleanup();
      await Deno.remove(out).catch(() => {});
    }
  },
);

agentTest(
  "lease: service stop on a standby stops the guard, removes the lease, leaves no process",
  async () => {
    const s = await setup("lease-stop");
    try {
      const n1 = await startActive(s);
      assert.equal(guardProcesses(s.svc).length, 1, "one guard runs");
      const [, n2] = s.nodes;
      // make n1 a standby, then stop it as an operator would
      await kvPut(
        s.cluster.server,
        `cluster/${s.svc}`,
        JSON.stringify({ active_nodes: [n2.agent.name], standby_nodes: [n1.agent.name] }),
      );
      const r = await service([n1.wrapper, "stop"]);
      assert.equal(r.code, 0, r.text);
      assert.equal(await n1.daemon.isRunning(), false);
      assert.equal(readJson(pidFile(s, n1)), null, "the pid file is gone");
      assert.equal(readJson(leaseFile(s, n1)), null, "the lease is gone");
      await waitFor("no guard process left", () => {
        return Promise.resolve(guardProcesses(s.svc).length === 0);
      }, { timeoutMs: 10_000 });
    } finally {
      await s.cleanup();
    }
  },
);

agentTest("lease: with every server down, serverOutage fence stops the active", async () => {
  const s = await setup("lease-outage-fence", {}, OUTAGE_LEASE_S);
  try {
    const n1 = await startActive(s);
    await s.cluster.server.stop();
    await waitFor("the guard to fence the active", async () => {
      return !(await n1.daemon.isRunning());
    }, { timeoutMs: (OUTAGE_LEASE_S + 15) * 1000, intervalMs: 100 });
    assert.match(String(readJson(fenceFile(s, n1))?.reason), /^lease expired at /, logsOf(s));
  } finally {
    await s.cleanup();
  }
});

agentTest(
  "lease: with every server down, serverOutage failsafe keeps the active running",
  async () => {
    const s = await setup("lease-outage-failsafe", { serverOutage: "failsafe" }, OUTAGE_LEASE_S);
    try {
      const n1 = await startActive(s);
      await s.cluster.server.stop();
      await waitFor("a failsafe extension of the lease", () => {
        return Promise.resolve(readJson(leaseFile(s, n1))?.source === "failsafe");
      }, { timeoutMs: (OUTAGE_LEASE_S + 5) * 1000, onTimeout: () => logsOf(s) });
      const renewed = Number(readJson(leaseFile(s, n1))?.renewed);
      // well past the lease the check made before the outage: still extended, still running
      await waitFor("the lease extended past two lease periods of the outage", () => {
        const l = readJson(leaseFile(s, n1));
        return Promise.resolve(Number(l?.renewed) >= renewed + 2 * OUTAGE_LEASE_S);
      }, { timeoutMs: 4 * OUTAGE_LEASE_S * 1000 + 10_000, onTimeout: () => logsOf(s) });
      assert.ok(await n1.daemon.isRunning(), "failsafe fenced the active");
      assert.equal(readJson(fenceFile(s, n1)), null);
    } finally {
      await s.cleanup();
    }
  },
);
