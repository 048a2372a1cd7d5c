import assert from "node:assert/strict";
import {
  FLIP_WHY,
  planCheck,
  planFlip,
  planTags,
  stateFor,
  UNLOCK_WHY,
  wantedTags,
} from "../../../lib/check/plan.ts";
import { readClusterView } from "../../../lib/cluster/view.ts";
import type { LocalService } from "../../../lib/consul/client.ts";
import { describeStep } from "../../../lib/plan/step.ts";
import { config, FakeFacts, instance, kvEntry } from "../../_support/cluster.ts";

const cfg = config({ clusterKey: "cluster" });
const nodes = { active_nodes: ["a1"], standby_nodes: ["s1"] };

/** The view of node s1 (a standby) with one active a1 in the given health. */
async function view(
  a1: "passing" | "failing" | "absent",
  doc: Record<string, unknown> = nodes,
  node = "s1",
) {
  const health = a1 === "absent" ? [] : [
    instance("a1", a1 === "passing", "dc1", a1 === "passing" ? [] : ["serfHealth=critical"], {
      claimsActive: true,
    }),
  ];
  return await readClusterView(
    new FakeFacts({
      node,
      datacenter: "dc1",
      kv: { "cluster/web": kvEntry("cluster/web", doc, 21) },
      health: { dc1: health },
    }),
    cfg,
    "web",
  );
}

const local = (tags: string[] | null, id = "web"): LocalService => ({
  id,
  service: { ID: id, Service: "web", Tags: tags },
  node: "s1",
  aggregated: "passing",
});

Deno.test("wantedTags() adds nodns for stopped-as-expected, removes it for running", () => {
  assert.deepEqual(wantedTags(["web"], false), ["web", "nodns"]);
  assert.equal(wantedTags(["web", "nodns"], false), null);
  assert.deepEqual(wantedTags(["nodns", "web"], true), ["web"]);
  assert.equal(wantedTags(["web"], true), null);
});

Deno.test("planFlip(): only -U on a standby with no active passing, CAS on the index read", async () => {
  const failing = await view("failing");
  const step = planFlip(failing, true);
  const { record, ...write } = step!;
  assert.equal(record?.entry.action, "flip", "the flip carries its history entry");
  assert.equal(record?.key, "service/web/history");
  assert.deepEqual(record?.entry.before, { active_nodes: ["a1"], standby_nodes: ["s1"] });
  assert.deepEqual(write, {
    kind: "kv-write",
    key: "cluster/web",
    value: JSON.stringify({ active_nodes: ["s1"], standby_nodes: ["a1"], lock: true }),
    cas: 21,
    why: FLIP_WHY,
  });
  assert.equal(
    describeStep(step!),
    `write cluster/web = {"active_nodes":["s1"],"standby_nodes":["a1"],"lock":true} (cas 21) ` +
      "to make this node active (-U), recorded as flip in service/web/history (one transaction)",
  );
  assert.equal(planFlip(failing, false), null, "without -U");
  assert.equal(planFlip(await view("passing"), true), null, "an active passes");
  assert.equal(planFlip(await view("absent"), true), null, "no active registered");
  assert.equal(planFlip(await view("failing", { ...nodes, lock: true }), true), null, "locked");
  assert.equal(planFlip(await view("failing", nodes, "a1"), true), null, "on an active");
});

Deno.test("planCheck(): the answer, the lock clear and the tags, from the view and the probe", async (t) => {
  await t.step("standby, stopped as expected: passing, nodns added", async () => {
    const p = planCheck(await view("passing"), { running: false, detail: "apache2 stopped" }, [
      local(["web"]),
    ], []);
    assert.equal(p.state, "passing");
    assert.equal(p.role, "secondary");
    assert.equal(p.expects, false);
    assert.equal(
      p.message,
      "apache2 stopped; should be stopped: node s1 is listed standby; an active instance is " +
        "passing (a1:passing)",
    );
    assert.equal(p.unlock, null);
    assert.deepEqual(p.tags.map((s) => [s.serviceId, s.tags]), [["web", ["web", "nodns"]]]);
  });
  await t.step("standby running while an active passes: critical, no tag write", async () => {
    const p = planCheck(await view("passing"), { running: true, detail: "apache2 running" }, [
      local(["web"]),
    ], []);
    assert.equal(p.state, "critical");
    assert.deepEqual(p.tags, []);
  });
  await t.step("locked standby seeing the new active pass: lock clear planned", async () => {
    const p = planCheck(
      await view("passing", { ...nodes, lock: true }),
      { running: false, detail: "x stopped" },
      [local(["nodns"])],
      [],
    );
    const { record, ...unlock } = p.unlock!;
    assert.equal(record?.entry.action, "lock-cleared");
    assert.deepEqual(unlock, {
      kind: "kv-write",
      key: "cluster/web",
      value: JSON.stringify(nodes),
      cas: 21,
      why: UNLOCK_WHY,
    });
    assert.deepEqual(p.tags, [], "tags already right");
  });
  await t.step(
    "new active in a locked document: clears the lock once its own check passes",
    async () => {
      const locked = { ...nodes, lock: true };
      const v = await view("passing", locked, "a1");
      assert.equal(v.decision.unlockOnPass, true);
      const up = planCheck(v, { running: true, detail: "x running" }, [local(null)], []);
      assert.equal(up.state, "passing");
      const { record, ...unlock } = up.unlock ?? {};
      assert.deepEqual(unlock, {
        kind: "kv-write",
        key: "cluster/web",
        value: JSON.stringify(nodes),
        cas: 21,
        why: UNLOCK_WHY,
      });
      // recorded in the history in the same transaction, as every lock clear is
      assert.equal(record?.entry.action, "lock-cleared");
      assert.equal(record?.entry.node, "a1");
      const down = planCheck(v, { running: false, detail: "x stopped" }, [local(null)], []);
      assert.equal(down.unlock, null, "not running yet: no evidence the switch happened");
      const justFlipped = planCheck(
        v,
        { running: true, detail: "x running" },
        [local(null)],
        [],
        true,
      );
      assert.equal(justFlipped.unlock, null, "the run that flipped leaves the lock to the next");
      const open = await view("passing", nodes, "a1");
      assert.equal(open.decision.unlockOnPass, false);
    },
  );
  await t.step("check_procs warning band: warning whatever the role", async () => {
    const p = planCheck(await view("failing"), { running: "warning", detail: "PROCS WARNING" }, [
      local(null),
    ], ["flipped cluster/web"]);
    assert.equal(p.state, "warning");
    assert.deepEqual(p.tags, []);
    assert.match(p.message, /acting as primary; flipped cluster\/web$/);
  });
});

Deno.test("stateFor() and planTags()", () => {
  assert.equal(stateFor(true, { running: true, detail: "" }), "passing");
  assert.equal(stateFor(false, { running: true, detail: "" }), "critical");
  assert.equal(stateFor(true, { running: "warning", detail: "" }), "warning");
  assert.deepEqual(
    planTags([local(["nodns"], "web-1"), local([], "web-2")], true).map((s) => s.serviceId),
    ["web-1"],
  );
  const [s] = planTags([local(null)], false);
  assert.deepEqual(s!.registration, { ID: "web", Service: "web", Tags: null });
});
