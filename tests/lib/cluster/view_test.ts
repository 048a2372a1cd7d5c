import assert from "node:assert/strict";
import { IdentityCache, LiveFacts } from "../../../lib/cluster/facts.ts";
import type { ConsulClient } from "../../../lib/consul/client.ts";
import { parseKvSnapshot, SnapshotFacts } from "../../../lib/cluster/snapshot.ts";
import { readClusterView } from "../../../lib/cluster/view.ts";
import { MemoryTakeoverStore } from "../../../lib/cluster/takeover_store.ts";
import { FakeClock } from "../../_support/fakes.ts";
import { b64encode } from "../../../lib/consul/client.ts";
import { config, FakeFacts, instance, kvEntry, MemoryFacts } from "../../_support/cluster.ts";

const cfg = config({ clusterKey: "cluster" });
const nodes = { active_nodes: ["a1"], standby_nodes: ["s1"] };

Deno.test("readClusterView(): no clusterKey or no document is standalone, with one read at most", async () => {
  const f = new FakeFacts({ node: "s1", datacenter: "dc1" });
  const v = await readClusterView(f, config(), "web");
  assert.equal(v.key, null);
  assert.equal(v.decision.role, "standalone");
  assert.deepEqual(f.calls, []);
  const g = new FakeFacts({ node: "s1", datacenter: "dc1" });
  const w = await readClusterView(g, cfg, "web");
  assert.equal(w.key, "cluster/web");
  assert.equal(w.decision.reason, "no cluster document: standalone");
  assert.deepEqual(g.calls, ["kv cluster/web"]);
});

Deno.test("readClusterView(): a standby seeing a local active passing asks nothing more", async () => {
  const f = new FakeFacts({
    node: "s1",
    datacenter: "dc1",
    datacenters: ["dc1", "dc2"],
    kv: { "cluster/web": kvEntry("cluster/web", nodes, 10) },
    health: { dc1: [instance("a1", true, "dc1", [], { checksIndex: 11 }), instance("s1", true)] },
  });
  const v = await readClusterView(f, cfg, "web");
  assert.equal(v.placement.kind, "standby");
  assert.deepEqual(v.actives.map((a) => [a.node, a.settled]), [["a1", true]]);
  assert.equal(v.decision.expects, false);
  assert.deepEqual(f.calls, ["kv cluster/web", "health web"]);
});

Deno.test("readClusterView(): no local active passing looks in every other datacenter", async () => {
  const f = new FakeFacts({
    node: "s1",
    datacenter: "dc1",
    datacenters: ["dc1", "dc2"],
    kv: { "cluster/web": kvEntry("cluster/web", nodes, 10) },
    health: { dc1: [], dc2: [instance("a1", false, "dc2", ["serfHealth=critical"])] },
  });
  const v = await readClusterView(f, cfg, "web");
  assert.deepEqual(f.calls, ["kv cluster/web", "health web", "datacenters", "health web@dc2"]);
  assert.equal(v.decision.actingPrimary, true);
  // passing from before the document was written (checks index ≤ document index) is unsettled
  assert.equal(v.actives[0]!.settled, false);
});

Deno.test("readClusterView(): a datacenter-level document asks the active datacenter", async () => {
  const f = new FakeFacts({
    node: "n",
    datacenter: "dc2",
    datacenters: ["dc1", "dc2"],
    kv: {
      "cluster/web": kvEntry("cluster/web", {
        active_datacenter: "dc1",
        standby_datacenter: "dc2",
        lock: true,
      }),
    },
    health: { dc1: [instance("m", true, "dc1", [], { claimsActive: true })] },
  });
  const v = await readClusterView(f, cfg, "web");
  assert.equal(v.decision.role, "secondary");
  assert.equal(v.decision.unlockDue, true, "an active claiming its role settles the lock");
  assert.ok(f.calls.includes("health web@dc1"));
});

const snap = (doc: unknown, extra: Record<string, string> = {}) =>
  parseKvSnapshot(
    JSON.stringify([
      { key: "cluster/web", flags: 0, value: b64encode(JSON.stringify(doc)) },
      ...Object.entries(extra).map(([key, v]) => ({ key, flags: 0, value: b64encode(v) })),
    ]),
    "snap",
  );

Deno.test("readClusterView() over a snapshot resolves like the agent, from the stated health", async (t) => {
  const cases: Record<
    string,
    [unknown, string, string, "passing" | "failing" | undefined, string, string]
  > = {
    "active": [nodes, "a1", "dc1", undefined, "primary", "node a1 is listed active"],
    "standby, actives passing": [
      nodes,
      "s1",
      "dc1",
      "passing",
      "secondary",
      "node s1 is listed standby; an active instance is passing",
    ],
    "standby, actives failing: acts as primary": [
      nodes,
      "s1",
      "dc1",
      "failing",
      "primary",
      "node s1 is listed standby; no active instance passing: acting as primary",
    ],
    "standby, locked: stays secondary": [
      { ...nodes, lock: true },
      "s1",
      "dc1",
      "failing",
      "secondary",
      "node s1 is listed standby; no active instance passing but the cluster document is " +
      "locked (a switch is under way): staying stopped",
    ],
    "datacenter document": [
      { active_datacenter: "dc1", standby_datacenter: "dc2" },
      "x",
      "dc2",
      "failing",
      "primary",
      "datacenter dc2 is standby; no active instance passing: acting as primary",
    ],
  };
  for (const [name, [doc, node, dc, actives, actsAs, why]] of Object.entries(cases)) {
    await t.step(name, async () => {
      const stated = actives ? { node, datacenter: dc, actives } : { node, datacenter: dc };
      const v = await readClusterView(new SnapshotFacts(snap(doc), cfg, stated), cfg, "web");
      assert.equal(v.decision.actsAs, actsAs);
      assert.equal(v.decision.why, why);
    });
  }
  await t.step("no clusterKey: standalone", async () => {
    const facts = new SnapshotFacts(snap(nodes), config(), { node: "s1", datacenter: "" });
    const v = await readClusterView(facts, config(), "web");
    assert.equal(v.decision.role, "standalone");
  });
  await t.step("a standby without --actives is a usage error", async () => {
    const facts = new SnapshotFacts(snap(nodes), cfg, { node: "s1", datacenter: "dc1" });
    await assert.rejects(readClusterView(facts, cfg, "web"), /--actives passing\|failing/);
  });
  await t.step("a broken document is the same error as live", async () => {
    const kv = parseKvSnapshot(
      JSON.stringify([{ key: "cluster/web", flags: 0, value: b64encode("{nope") }]),
      "snap",
    );
    const facts = new SnapshotFacts(kv, cfg, { node: "s1", datacenter: "dc1" });
    await assert.rejects(readClusterView(facts, cfg, "web"), /cluster\/web is not valid JSON/);
  });
});

Deno.test("readClusterView(): a snapshot and a live agent with the same data say the same why", async () => {
  for (const passing of [true, false]) {
    const live = new FakeFacts({
      node: "s1",
      datacenter: "dc1",
      kv: { "cluster/web": kvEntry("cluster/web", nodes) },
      health: { dc1: [instance("a1", passing, "dc1", passing ? [] : ["serfHealth=critical"])] },
    });
    const offline = new SnapshotFacts(snap(nodes), cfg, {
      node: "s1",
      datacenter: "dc1",
      actives: passing ? "passing" : "failing",
    });
    const a = (await readClusterView(live, cfg, "web")).decision;
    const b = (await readClusterView(offline, cfg, "web")).decision;
    assert.equal(a.why, b.why);
    assert.equal(a.actsAs, b.actsAs);
    if (!passing) assert.notEqual(a.reason, b.reason, "the check's reason keeps the detail");
  }
});

Deno.test("LiveFacts reads health through the one health rule", async () => {
  const consul = {
    serviceHealth: () =>
      Promise.resolve([{
        Node: { Node: "a1", Address: "", Datacenter: "dc1" },
        Service: { ID: "web", Service: "web", Tags: null },
        Checks: [{
          Node: "a1",
          CheckID: "serfHealth",
          Name: "",
          Status: "critical",
          Output: "gone",
          ServiceID: "",
          ServiceName: "",
        }],
      }]),
  };
  // deno-lint-ignore no-explicit-any
  const facts = new LiveFacts(consul as any, {} as any);
  const [i] = await facts.serviceHealth("web");
  assert.equal(i!.passing, false);
  assert.deepEqual(i!.failing, ["serfHealth=critical"]);
});

Deno.test("readClusterView() over LiveFacts reads the live agent's answers", async () => {
  const doc = JSON.stringify({ active_nodes: ["a1"], standby_nodes: ["s1"] });
  const consul = {
    kvGet: (key: string) =>
      Promise.resolve({
        key,
        value: doc,
        modifyIndex: 3,
        createIndex: 1,
        lockIndex: 0,
        flags: 0,
        session: null,
      }),
    serviceHealth: () =>
      Promise.resolve([{
        Node: { Node: "a1", Address: "", Datacenter: "dc1" },
        Service: { ID: "web", Service: "web", Tags: null },
        Checks: [],
      }]),
    agentSelf: () => Promise.resolve({ node: "s1", datacenter: "dc1" }),
    kvList: () => Promise.resolve({ entries: [], index: 1 }),
    agentMembers: () => Promise.resolve([]),
    nodeHealth: () => Promise.resolve([]),
  } as unknown as ConsulClient;
  const cfg = config({ clusterKey: "cluster" });
  const v = await readClusterView(
    new LiveFacts(consul, new IdentityCache(consul, cfg)),
    cfg,
    "web",
  );
  assert.equal(v.node, "s1");
  assert.equal(
    v.decision.reason,
    "node s1 is listed standby; an active instance is passing (a1:passing)",
  );
});

Deno.test("readClusterView() with a memory: observes, decides by the takeover rules, returns the state", async (t) => {
  const cfg = config({ clusterKey: "cluster" });
  const kv = {
    "cluster/web": kvEntry("cluster/web", { active_nodes: ["a1"], standby_nodes: ["s1"] }, 9),
  };
  const clock = new FakeClock();
  const failing = instance("a1", false, "dc1", ["web=critical"]);
  const me = instance("s1", true, "dc1", [], { nodeHealthy: true, nodeFailing: [] });
  await t.step("a failed active: the first look waits, the state is returned to keep", async () => {
    const store = new MemoryTakeoverStore(clock.now);
    const f = new MemoryFacts(
      { node: "s1", datacenter: "dc1", kv, health: { dc1: [failing, me] } },
      store,
    );
    const v = await readClusterView(f, cfg, "web");
    assert.equal(v.decision.flipDue, false);
    assert.equal(
      v.decision.reason,
      "node s1 is listed standby; active a1 failed (web=critical) for 0s: taking over after 2s",
    );
    assert.equal(v.takeover?.nodes.a1?.class, "failed");
    assert.ok(f.calls.includes("heartbeats service/web/"), f.calls.join());
    assert.ok(!f.calls.includes("members"), "every active listed: no members read");
    assert.ok(!f.calls.some((c) => c.startsWith("node ")), "own health from the same answer");
    await store.save("web", "s1", v.takeover!);
    clock.advance(2000);
    const w = await readClusterView(f, cfg, "web");
    assert.equal(w.decision.flipDue, true);
  });
  await t.step("own node not healthy in the same answer: never takes over", async () => {
    const store = new MemoryTakeoverStore(clock.now);
    const sick = instance("s1", false, "dc1", ["serfHealth=critical"], {
      nodeHealthy: false,
      nodeFailing: ["serfHealth=critical"],
    });
    const f = new MemoryFacts({
      node: "s1",
      datacenter: "dc1",
      kv,
      health: { dc1: [failing, sick] },
    }, store);
    await store.save("web", "s1", (await readClusterView(f, cfg, "web")).takeover!);
    clock.advance(5000);
    const v = await readClusterView(f, cfg, "web");
    assert.equal(v.decision.flipDue, false);
    assert.match(v.decision.reason, /but this node is not healthy \(serfHealth=critical\)/);
  });
  await t.step("an active missing from the answer: the members list is read", async () => {
    const store = new MemoryTakeoverStore(clock.now);
    const f = new MemoryFacts({ node: "s1", datacenter: "dc1", kv, health: { dc1: [me] } }, store, {
      members: { a1: "left" },
    });
    const v = await readClusterView(f, cfg, "web");
    assert.ok(f.calls.includes("members"));
    assert.equal(
      v.decision.reason,
      "node s1 is listed standby; active a1 unreachable (members: left) for 0s: taking over after 20s",
    );
  });
  await t.step("a heartbeat key is followed by its index", async () => {
    const store = new MemoryTakeoverStore(clock.now);
    const ok = instance("a1", true);
    const f = new MemoryFacts(
      { node: "s1", datacenter: "dc1", kv, health: { dc1: [ok, me] } },
      store,
      {
        heartbeats: { a1: 77 },
      },
    );
    const v = await readClusterView(f, cfg, "web");
    assert.deepEqual(v.takeover?.nodes.a1?.heartbeat, { index: 77, changedAt: clock.now() });
  });
  await t.step(
    "locked: who locked it is read from the history only while no active passes",
    async () => {
      const lockedKv = (action: string) => ({
        "cluster/web": kvEntry("cluster/web", { ...nodes, lock: true }, 9),
        "service/web/history": kvEntry("service/web/history", [{
          time: "2026-01-01T00:00:00.000Z",
          node: "s1",
          service: "web",
          action,
          before: null,
          after: null,
          reason: "r",
        }]),
      });
      // its check changed after the document was written (index 9): settled
      const dead = instance("a1", false, "dc1", ["web=critical"], { checksIndex: 12 });
      const decideAfter = async (action: string) => {
        const store = new MemoryTakeoverStore(clock.now);
        const f = new MemoryFacts({
          node: "s1",
          datacenter: "dc1",
          kv: lockedKv(action),
          health: { dc1: [dead, me] },
        }, store);
        await store.save("web", "s1", (await readClusterView(f, cfg, "web")).takeover!);
        clock.advance(2000);
        return { v: await readClusterView(f, cfg, "web"), calls: f.calls };
      };
      const sp = await decideAfter("start-primary");
      assert.ok(sp.calls.includes("kv service/web/history"), sp.calls.join());
      assert.equal(sp.v.decision.flipDue, true, sp.v.decision.reason);
      const flip = await decideAfter("flip");
      assert.equal(flip.v.decision.flipDue, false, "a flip's lock waits for its new active");
      assert.match(flip.v.decision.reason, /locked \(a switch is under way\)/);
      const f = new MemoryFacts({
        node: "s1",
        datacenter: "dc1",
        kv: lockedKv("start-primary"),
        health: { dc1: [instance("a1", true, "dc1", [], { checksIndex: 12 }), me] },
      }, new MemoryTakeoverStore(clock.now));
      await readClusterView(f, cfg, "web");
      assert.ok(!f.calls.includes("kv service/web/history"), "an active passing: no history read");
    },
  );
  await t.step("a failed active's check index and heal mark reach the memory", async () => {
    const store = new MemoryTakeoverStore(clock.now);
    const down = instance("a1", false, "dc1", ["web=critical"], { checksIndex: 100 });
    const f = new MemoryFacts(
      { node: "s1", datacenter: "dc1", kv, health: { dc1: [down, me] } },
      store,
      { marks: { a1: { index: 104, state: "failed" } } },
    );
    const v = await readClusterView(f, cfg, "web");
    assert.equal(v.takeover?.nodes.a1?.episode, 100);
    assert.deepEqual(v.takeover?.nodes.a1?.mark, {
      index: 104,
      state: "failed",
      seenAt: clock.now(),
    });
  });
  await t.step("an active node reads no memory", async () => {
    const store = new MemoryTakeoverStore(clock.now);
    const f = new MemoryFacts({ node: "a1", datacenter: "dc1", kv, health: { dc1: [] } }, store);
    const v = await readClusterView(f, cfg, "web");
    assert.equal(v.takeover, null);
  });
});
