// Forced failover against real agents: refused while the active's agent lives, done once Consul
// confirms it down; the dead node comes back as a standby.
import assert from "node:assert/strict";
import { type AgentHandle, type ClusterHandle, startCluster, waitFor } from "../harness/consul.ts";
import { installInitScript, sandboxDirs, uniqueName, writeConfig } from "../harness/system.ts";
import { kvGet, kvPut, register, ttl } from "../_agent.ts";
import { checkJson, cli } from "../_cli.ts";
import { agentTest } from "../_support/agent.ts";
import type { HistoryEntry } from "../../lib/history/entry.ts";

function on(cluster: ClusterHandle, agent: AgentHandle, config: string) {
  return (args: string[]) =>
    cli([...args, "--config", config], {
      net: cluster.netAllow,
      env: { CONSUL_HTTP_ADDR: agent.httpAddr },
    });
}

async function serfHealth(viewer: AgentHandle, node: string): Promise<string> {
  const r = await viewer.api(`/v1/health/node/${node}`);
  const checks = await r.json() as { CheckID: string; Status: string }[];
  return checks.find((c) => c.CheckID === "serfHealth")?.Status ?? "missing";
}

agentTest(
  "failover: refused while the active's agent is alive; with it stopped it completes (one history entry, flags reset); the old active returns as a standby",
  async () => {
    await using dirs = await sandboxDirs("ops-failover");
    await using cluster = await startCluster({ clients: 2 });
    const [, n2, n3] = cluster.agents as [AgentHandle, AgentHandle, AgentHandle];
    await using s2 = await installInitScript(uniqueName("pcfo2"));
    const config = await writeConfig(dirs.configDir, {
      logDir: dirs.logDir,
      clusterKey: "cluster",
    });
    const original = { active_nodes: [n2.name], standby_nodes: [n3.name] };
    await kvPut(cluster.server, "cluster/web", JSON.stringify(original));
    await kvPut(cluster.server, `service/web/${n2.name}/demote`, "WAIT");
    for (const a of [n2, n3]) {
      await register(a, { ID: "web", Name: "web", Check: { CheckID: "web-ttl", TTL: "1h" } });
      await ttl(a, "web-ttl", "pass");
    }
    const at3 = on(cluster, n3, config);

    const alive = await at3(["failover", "-S", "web"]);
    assert.equal(alive.code, 1, alive.stderr);
    assert.match(
      alive.stderr,
      new RegExp(
        `^powerconsul failover: refused: ${n2.name}'s agent is alive \\(serfHealth passing\\)`,
      ),
    );
    assert.deepEqual(JSON.parse((await kvGet(cluster.server, "cluster/web"))!.value!), original);

    await n2.kill();
    await waitFor(
      "the server sees the active's serfHealth critical",
      async () => await serfHealth(cluster.server, n2.name) === "critical",
      { timeoutMs: 30_000 },
    );
    const dry = await at3(["failover", "-S", "web", "--dry-run"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^dry-run: would write cluster\/web = .*recorded as forced-failover/m);
    assert.deepEqual(JSON.parse((await kvGet(cluster.server, "cluster/web"))!.value!), original);

    const done = await at3(["failover", "-S", "web", "--json"]);
    assert.equal(done.code, 0, done.stderr);
    assert.deepEqual(JSON.parse(done.stdout), {
      service: "web",
      done: true,
      dryRun: false,
      actives: [n3.name],
      standbys: [n2.name],
      flagsReset: 1,
      flagErrors: [],
    });
    const after = { active_nodes: [n3.name], standby_nodes: [n2.name] };
    assert.deepEqual(JSON.parse((await kvGet(cluster.server, "cluster/web"))!.value!), after);
    assert.equal((await kvGet(cluster.server, `service/web/${n2.name}/demote`))!.value, "NULL");
    const h = JSON.parse((await at3(["history", "-S", "web", "--json"])).stdout) as {
      entries: HistoryEntry[];
    };
    assert.equal(h.entries.length, 1, "exactly one history entry");
    assert.equal(h.entries[0]!.action, "forced-failover");
    assert.deepEqual(h.entries[0]!.before, original);
    assert.deepEqual(h.entries[0]!.after, after);
    assert.equal(h.entries[0]!.node, n3.name);
    assert.match(h.entries[0]!.reason, new RegExp(`${n2.name}:serfHealth=critical`));

    await n2.start();
    const at2 = on(cluster, n2, config);
    await waitFor("the returned node's check reads itself as a standby", async () => {
      const r = checkJson(await at2(["check", "service", "-s", s2.name, "-S", "web"]));
      return r.role === "secondary" && r.expects === false && r.state === "passing";
    }, { timeoutMs: 30_000 });
    assert.equal(await s2.isRunning(), false);
  },
);
