// The fault-injection harness bites: a cut or a freeze is seen by the servers, healing undoes it,
// and nothing it made outlives a test, even a killed one.

import assert from "node:assert/strict";
import { agentTest } from "../_support/agent.ts";
import { type AgentHandle, startCluster, waitFor } from "../harness/consul.ts";
import {
  catalogRead,
  leftovers,
  partitionHarness,
  serfHealth,
  waitCutOff,
  waitReconnected,
  waitSerfHealth,
} from "../harness/partition.ts";
import { overlapReport, watchOverlap } from "../harness/observe.ts";
import { installInitScript, uniqueName } from "../harness/system.ts";

/** Bound for the servers to declare a silent node failed (seen here: 5–11 s). */
const DETECT_MS = 40_000;
/** Bound for gossip and RPC to come back after healing (seen here: up to ~30 s). */
const RECOVER_MS = 90_000;

async function localAnswers(agent: AgentHandle): Promise<void> {
  for (const path of ["/v1/agent/self", "/v1/agent/checks", "/v1/agent/members"]) {
    const r = await agent.api(path);
    await r.body?.cancel();
    assert(r.ok, `${agent.name} ${path} answered HTTP ${r.status} during the cut`);
  }
}

/** Seconds since `t0` (for the figures the tests print; nothing is asserted on them). */
function since(t0: number): string {
  return ((performance.now() - t0) / 1000).toFixed(1);
}

function figure(text: string): void {
  // deno-lint-ignore no-console
  console.log(text);
}

function chainsOf(tag: string): string[] {
  return leftovers(tag).filter((l) => l.startsWith("iptables"));
}

agentTest(
  "partition: a full cut makes the servers mark the node critical; heal restores",
  async () => {
    await using net = await partitionHarness();
    await using cluster = await startCluster({ clients: 2, launchPrefix: net.launchPrefix });
    const [server, cutNode, other] = cluster.agents as [AgentHandle, AgentHandle, AgentHandle];
    let critical = "";
    let healedAt = 0;
    {
      const t0 = performance.now();
      await using cut = await net.cut(cutNode, { from: "all" });
      assert.deepStrictEqual(cut.peers.sort(), [server.name, other.name].sort());
      assert(chainsOf(net.tag).length > 0, "the cut installed no iptables chain");
      await waitSerfHealth([server, other], cutNode.name, "critical", DETECT_MS);
      critical = since(t0);
      const why = await waitCutOff(cutNode, DETECT_MS);
      assert.match(why, /No known Consul servers|rpc error/);
      await localAnswers(cutNode);
      assert((await catalogRead(other)).ok, "an agent that was not cut lost its servers");
      await cut.heal();
      healedAt = performance.now();
      assert.deepStrictEqual(chainsOf(net.tag), [], "heal left iptables rules");
    }
    await waitSerfHealth([server, other], cutNode.name, "passing", RECOVER_MS);
    const passing = since(healedAt);
    await waitReconnected(cutNode, RECOVER_MS);
    figure(`full cut: serfHealth critical after ${critical} s; passing ${passing} s after heal`);
  },
);

agentTest(
  "partition: a cut from the servers only stops its RPC, other clients keep theirs",
  async () => {
    await using net = await partitionHarness();
    await using cluster = await startCluster({ clients: 2, launchPrefix: net.launchPrefix });
    const [server, cutNode, other] = cluster.agents as [AgentHandle, AgentHandle, AgentHandle];
    const cut = await net.cut(cutNode, { from: "servers" });
    try {
      assert.deepStrictEqual(cut.peers, [server.name]);
      // The other client still gossips with the cut node, so the servers' indirect probes through
      // it succeed: serfHealth may well stay passing. What must hold is that no RPC gets through.
      const why = await waitCutOff(cutNode, DETECT_MS);
      assert.match(why, /No known Consul servers|rpc error/);
      await localAnswers(cutNode);
      assert((await catalogRead(other)).ok, "an agent that was not cut lost its servers");
      figure(
        `servers-only cut: the servers see serfHealth ${await serfHealth(server, cutNode.name)}`,
      );
    } finally {
      await cut.heal();
    }
    assert.deepStrictEqual(chainsOf(net.tag), [], "heal left iptables rules");
    await waitReconnected(cutNode, RECOVER_MS);
    await waitSerfHealth([server], cutNode.name, "passing", RECOVER_MS);
  },
);

agentTest("partition: a cut from the servers of a lone client is a full cut", async () => {
  await using net = await partitionHarness();
  await using cluster = await startCluster({ clients: 1, launchPrefix: net.launchPrefix });
  const [server, cutNode] = cluster.agents as [AgentHandle, AgentHandle];
  const cut = await net.cut(cutNode, { from: "servers" });
  try {
    await waitSerfHealth([server], cutNode.name, "critical", DETECT_MS);
    await waitCutOff(cutNode, DETECT_MS);
    await localAnswers(cutNode);
  } finally {
    await cut.heal();
  }
  await waitSerfHealth([server], cutNode.name, "passing", RECOVER_MS);
  await waitReconnected(cutNode, RECOVER_MS);
});

agentTest(
  "partition: freeze makes serfHealth critical, the services keep running; thaw restores",
  async () => {
    await using net = await partitionHarness();
    await using svc = await installInitScript(uniqueName("pcpartsvc"));
    await using cluster = await startCluster({ clients: 1, launchPrefix: net.launchPrefix });
    const [server, node] = cluster.agents as [AgentHandle, AgentHandle];
    await svc.start();
    const t0 = performance.now();
    const frozen = await net.freeze(node);
    let critical = "";
    let thawedAt = 0;
    try {
      await waitSerfHealth([server], node.name, "critical", DETECT_MS);
      critical = since(t0);
      assert(await svc.isRunning(), "freezing the agent stopped a service");
      assert(node.running(), "the frozen agent exited");
    } finally {
      await frozen.thaw();
      thawedAt = performance.now();
    }
    await waitSerfHealth([server], node.name, "passing", RECOVER_MS);
    figure(
      `freeze: serfHealth critical after ${critical} s; passing ${since(thawedAt)} s after thaw`,
    );
    const r = await node.api("/v1/agent/self");
    await r.body?.cancel();
    assert(r.ok);
  },
);

agentTest(
  "partition: close removes every rule and cgroup; a killed run's leftovers are swept",
  async () => {
    // A run that is killed in the middle of a cut.
    const consulUrl = new URL("../harness/consul.ts", import.meta.url).href;
    const partUrl = new URL("../harness/partition.ts", import.meta.url).href;
    const code = `import { startCluster } from ${JSON.stringify(consulUrl)};
import { partitionHarness } from ${JSON.stringify(partUrl)};
const net = await partitionHarness();
const c = await startCluster({ clients: 1, launchPrefix: net.launchPrefix });
await net.cut(c.agents[1], { from: "all" });
console.log("tag=" + net.tag);
setInterval(() => {}, 1000);
`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let tag = "";
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      tag = await waitFor("the doomed run to cut a node", async () => {
        const { value, done } = await reader.read();
        if (done) throw new Error(`it exited: ${out}`);
        out += value;
        return /tag=([0-9a-f]{8})/.exec(out)?.[1];
      }, { timeoutMs: 60_000 });
      reader.releaseLock();
      assert(chainsOf(tag).length > 0, "the doomed run made no rules");
    } finally {
      child.kill("SIGKILL");
      await child.status;
      await child.stdout.cancel().catch(() => {});
      await child.stderr.cancel().catch(() => {});
    }
    assert(leftovers(tag).length > 0, "nothing was left to sweep (the test would prove nothing)");

    // The next run sweeps them, and its own close leaves nothing either.
    const net = await partitionHarness();
    try {
      assert.deepStrictEqual(
        leftovers(tag),
        [],
        "a killed run's rules or cgroups survived the sweep",
      );
      const cluster = await startCluster({ clients: 1, launchPrefix: net.launchPrefix });
      try {
        await net.cut(cluster.agents[1]!, { from: "all" });
        await net.freeze(cluster.agents[0]!);
        assert(leftovers(net.tag).length > 0);
      } finally {
        await cluster.close();
      }
    } finally {
      await net.close();
    }
    assert.deepStrictEqual(leftovers(net.tag), [], "close left rules or cgroups");
  },
);

Deno.test("observe: overlapReport measures stretches with two running", () => {
  const s = (at: number, ...running: string[]) => ({ at, running });
  const r = overlapReport([
    s(0, "a"),
    s(100, "a", "b"),
    s(200, "a", "b"),
    s(300, "b"),
    s(400, "a", "b"),
    s(500),
  ]);
  assert.deepStrictEqual(r.samples, 6);
  assert.deepStrictEqual(r.overlapSamples, 3);
  assert.deepStrictEqual(r.maxOverlapSeconds, 0.2);
  assert.deepStrictEqual(r.totalOverlapSeconds, 0.3);
  assert.deepStrictEqual(r.maxRunning, 2);
  assert.deepStrictEqual(r.maxGapMs, 100);
  assert.deepStrictEqual(r.last, []);
  const none = overlapReport([s(0, "a"), s(50, "b"), s(100)]);
  assert.deepStrictEqual([none.overlapSamples, none.maxOverlapSeconds], [0, 0]);
  const open = overlapReport([s(0), s(50, "a", "b"), s(150, "a", "b")]);
  assert.deepStrictEqual(open.maxOverlapSeconds, 0.1);
  assert.deepStrictEqual(overlapReport([]).samples, 0);
});

agentTest("observe: the poller sees two init-script services running at once", async () => {
  await using a = await installInitScript(uniqueName("pcparta"));
  await using b = await installInitScript(uniqueName("pcpartb"));
  await using poller = watchOverlap([a, b]);
  await a.start();
  await waitFor("the poller to see a alone", () => {
    const r = poller.report();
    return Promise.resolve(r.last.length === 1 && r.last[0] === a.name);
  });
  assert.deepStrictEqual(poller.report().overlapSamples, 0);
  await b.start();
  await waitFor("the poller to see both", () => Promise.resolve(poller.report().last.length === 2));
  await a.stop();
  await waitFor("the poller to see b alone", () => {
    const r = poller.report();
    return Promise.resolve(r.last.length === 1 && r.last[0] === b.name);
  });
  const r = await poller.stop();
  assert(r.overlapSamples >= 1);
  assert(r.maxOverlapSeconds > 0);
  assert.deepStrictEqual(r.maxRunning, 2);
});
