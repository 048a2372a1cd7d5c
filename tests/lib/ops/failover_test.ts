import assert from "node:assert/strict";
import { readClusterView } from "../../../lib/cluster/view.ts";
import { planForcedFailover, serfOf } from "../../../lib/ops/failover.ts";
import { describeStep } from "../../../lib/plan/step.ts";
import { config, FakeFacts, instance, kvEntry } from "../../_support/cluster.ts";

const cfg = config({ clusterKey: "cluster" });
const doc = { active_nodes: ["a1"], standby_nodes: ["s1", "s2"], lock: true };
const at = () => new Date("2026-03-01T00:00:00.000Z");

async function viewOn(node: string, d: unknown = doc) {
  return await readClusterView(
    new FakeFacts({
      node,
      datacenter: "dc1",
      kv: { "cluster/web": kvEntry("cluster/web", d, 30) },
      health: { dc1: [instance("a1", false, "dc1", ["serfHealth=critical"])] },
    }),
    cfg,
    "web",
  );
}

Deno.test("serfOf(): the serfHealth check's status; none is missing; odd ones unknown", () => {
  assert.equal(serfOf([{ CheckID: "serfHealth", Status: "critical" }]), "critical");
  assert.equal(serfOf([{ CheckID: "x", Status: "critical" }]), "missing");
  assert.equal(serfOf([{ CheckID: "serfHealth", Status: "maintenance" }]), "unknown");
});

Deno.test("planForcedFailover(): refused unless every active's serfHealth is critical", async () => {
  const v = await viewOn("s1");
  for (
    const [serf, why] of [
      ["passing", /a1's agent is alive \(serfHealth passing\).*use start-primary/],
      ["warning", /serfHealth warning/],
      ["missing", /a1 is not in the catalog \(cannot confirm it is down\)/],
      ["unknown", /serfHealth unknown/],
    ] as const
  ) {
    const p = planForcedFailover(cfg, v, { a1: serf }, [], "web");
    assert.equal(p.ok, false);
    assert.match(!p.ok ? p.refusal : "", why);
  }
  const onActive = planForcedFailover(cfg, await viewOn("a1"), {}, [], "web");
  assert.deepEqual(onActive, { ok: false, refusal: "a1 is already active for web" });
  const alone = await readClusterView(
    new FakeFacts({ node: "x9", datacenter: "dc1" }),
    config(),
    "web",
  );
  const stranger = planForcedFailover(cfg, alone, {}, [], "web");
  assert.match(
    !stranger.ok ? stranger.refusal : "",
    /^this node is not a standby of web \(no cluster document/,
  );
});

Deno.test("planForcedFailover(): CAS write with its history entry, no lock; flags reset to NULL", async () => {
  const v = await viewOn("s2");
  const keys = [
    kvEntry("service/web/a1/demote", "WAIT", 3),
    kvEntry("service/web/s2/promote", "NULL", 4),
    kvEntry("service/web/s1/promote", "START", 5),
    kvEntry("service/web/history", "[]", 6),
  ];
  const p = planForcedFailover(cfg, v, { a1: "critical" }, keys, "web", at);
  assert.ok(p.ok);
  assert.deepEqual(p.actives, ["s2"]);
  assert.deepEqual(p.standbys, ["s1", "a1"]);
  const [first, ...flags] = p.steps;
  if (first?.kind !== "kv-write") throw new Error("the document write comes first");
  const write = first;
  assert.equal(write.cas, 30);
  assert.deepEqual(JSON.parse(write.value), { active_nodes: ["s2"], standby_nodes: ["s1", "a1"] });
  assert.equal(write.record?.entry.action, "forced-failover");
  assert.equal(write.record?.entry.node, "s2");
  assert.deepEqual(write.record?.entry.before, doc);
  assert.equal(
    write.record?.entry.reason,
    "forced failover: a1:serfHealth=critical; s2 made active",
  );
  assert.deepEqual(flags.map(describeStep), [
    "set service/web/a1/demote = NULL",
    "set service/web/s1/promote = NULL",
  ]);
});
