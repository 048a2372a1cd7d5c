// The standby's takeover rules against real agents: one active and two standbys, each check run
// by hand as the agent would run it (a TTL check stands for the active's own service check).
import assert from "node:assert/strict";
import { type AgentHandle, type ClusterHandle, startCluster, waitFor } from "../harness/consul.ts";
import { sandboxDirs, writeConfig } from "../harness/system.ts";
import { kvGet, kvPut, register, ttl } from "../_agent.ts";
import { checkJson, cli } from "../_cli.ts";
import { agentTest } from "../_support/agent.ts";

function on(cluster: ClusterHandle, agent: AgentHandle, config: string) {
  return (args: string[]) =>
    cli([...args, "--config", config], {
      net: cluster.netAllow,
      env: { CONSUL_HTTP_ADDR: agent.httpAddr },
    });
}

const message = (r: Awaited<ReturnType<ReturnType<typeof on>>>) =>
  String(checkJson(r).message ?? "");

async function threeNodes(name: string) {
  const dirs = await sandboxDirs(name);
  const cluster = await startCluster({ clients: 3 });
  const [, a, s1, s2] = cluster.agents as [AgentHandle, AgentHandle, AgentHandle, AgentHandle];
  const config = await writeConfig(dirs.configDir, { logDir: dirs.logDir, clusterKey: "cluster" });
  for (const n of [a, s1, s2]) {
    await register(n, { ID: "solo", Name: "solo", Check: { CheckID: "solo-ttl", TTL: "1h" } });
  }
  await ttl(a, "solo-ttl", "pass");
  await ttl(s1, "solo-ttl", "pass");
  await ttl(s2, "solo-ttl", "pass");
  const doc = { active_nodes: [a.name], standby_nodes: [s1.name, s2.name] };
  await kvPut(cluster.server, "cluster/solo", JSON.stringify(doc));
  const args = ["check", "process", "-n", "-c 0:", "-S", "solo", "-U"];
  return { dirs, cluster, a, s1, s2, config, doc, args };
}

agentTest(
  "takeover: one active and two standbys, the active fails for good: after the damping exactly one new active, which clears the lock",
  async () => {
    const t = await threeNodes("tko-one");
    await using _dirs = t.dirs;
    await using _cluster = t.cluster;
    const { cluster, a, s1, s2, config, args } = t;
    await ttl(a, "solo-ttl", "fail");
    const looks: string[] = [];
    const flipped = await waitFor("one standby to take over", async () => {
      const rs = await Promise.all([s1, s2].map((n) => on(cluster, n, config)(args)));
      looks.push(...rs.map(message));
      return rs.find((r) => /flipped cluster\/solo/.test(message(r)));
    }, { timeoutMs: 30_000, intervalMs: 300 });
    const doc = JSON.parse((await kvGet(cluster.server, "cluster/solo"))!.value!);
    const winner = doc.active_nodes[0] === s1.name ? s1 : s2;
    const loser = winner === s1 ? s2 : s1;
    assert.deepEqual(doc, {
      active_nodes: [winner.name],
      standby_nodes: [a.name, loser.name],
      lock: true,
    }, "a single winner: the number of actives is kept");
    // the first look that saw the failure waited
    const firstSeen = looks.find((l) => /failed|flipped/.test(l));
    assert.match(
      firstSeen!,
      /active \S+ failed \(solo-ttl=critical\) for 0s: taking over after 2s$/,
    );
    assert.ok(/this node is now active/.test(message(flipped)));
    // the other standby sees the new active passing and stays a standby
    const other = await on(cluster, loser, config)(args);
    assert.match(message(other), /is listed standby; an active instance is passing/);
    assert.equal(checkJson(other).expects, false);
    // the new active's own passing check clears the lock (first-hand evidence)
    const own = await on(cluster, winner, config)(args);
    assert.match(message(own), /listed active.*; cleared the switch lock$/);
    assert.deepEqual(JSON.parse((await kvGet(cluster.server, "cluster/solo"))!.value!), {
      active_nodes: [winner.name],
      standby_nodes: [a.name, loser.name],
    });
  },
);

agentTest(
  "takeover: a failure shorter than the damping flips nothing; a passing look restarts the count",
  async () => {
    const t = await threeNodes("tko-blip");
    await using _dirs = t.dirs;
    await using _cluster = t.cluster;
    const { cluster, a, s1, config, doc, args } = t;
    const look = on(cluster, s1, config);
    await ttl(a, "solo-ttl", "fail");
    const first = await waitFor("the standby to see the failure", async () => {
      const r = await look(args);
      return /failed/.test(message(r)) ? r : undefined;
    }, { timeoutMs: 20_000 });
    assert.match(message(first), /failed \(solo-ttl=critical\) for 0s: taking over after 2s$/);
    await ttl(a, "solo-ttl", "pass");
    await waitFor("the standby to see the active passing again", async () => {
      const r = await look(args);
      return /an active instance is passing/.test(message(r)) ? r : undefined;
    }, { timeoutMs: 20_000 });
    await ttl(a, "solo-ttl", "fail");
    const again = await waitFor("the standby to see the second failure", async () => {
      const r = await look(args);
      return /failed/.test(message(r)) ? r : undefined;
    }, { timeoutMs: 20_000 });
    assert.match(message(again), /failed \(solo-ttl=critical\) for 0s: taking over after 2s$/);
    assert.deepEqual(
      JSON.parse((await kvGet(cluster.server, "cluster/solo"))!.value!),
      doc,
      "never flipped",
    );
  },
);
