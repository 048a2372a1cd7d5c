// Pure parts of `powerconsul service`: role gates, start/stop steps, the swap, the handler plan.
import assert from "node:assert/strict";
import { parseClusterDoc, withRoles } from "../../../lib/cluster/doc.ts";
import { decide, place } from "../../../lib/cluster/role.ts";
import { gate, planHandler, planSteps, planSwitch, stepLine } from "../../../lib/service/plan.ts";
import { parseLockRecord } from "../../../lib/sys/lockfile.ts";

const decision = (
  doc: unknown,
  node: string,
  actives: { node: string; passing: boolean }[] = [],
) => {
  const d = doc === null ? null : parseClusterDoc(JSON.stringify(doc));
  const p = place({ doc: d, node, datacenter: "dc1" });
  return decide(p, actives.map((a) => ({ ...a, datacenter: "dc1", failing: [] })));
};

const nodesDoc = { active_nodes: ["a"], standby_nodes: ["b"] };

Deno.test("gate() lets start/restart run where the resource should run, stop on standbys", () => {
  const standalone = decision(null, "a");
  const active = decision(nodesDoc, "a");
  const standbyOk = decision(nodesDoc, "b", [{ node: "a", passing: true }]);
  const acting = decision(nodesDoc, "b", [{ node: "a", passing: false }]);
  const allActive = decision({}, "a");
  for (
    const [d, start, stop] of [
      [standalone, true, true],
      [active, true, false],
      [standbyOk, false, true],
      [acting, true, true],
      [allActive, true, false],
    ] as const
  ) {
    assert.equal(gate("start", "web", d).allowed, start, `start ${d.reason}`);
    assert.equal(gate("restart", "web", d).allowed, start, `restart ${d.reason}`);
    assert.equal(gate("stop", "web", d).allowed, stop, `stop ${d.reason}`);
  }
  assert.match(
    gate("start", "web", standbyOk).reason,
    /run 'service web start-primary' on this node to make it active/,
  );
  assert.match(gate("stop", "web", active).reason, /refused: this node is active/);
});

Deno.test("planSteps() starts in order, stops in reverse, skips services already there", () => {
  const states = [
    { name: "a", running: true, detail: "" },
    { name: "b", running: false, detail: "" },
    { name: "c", running: null, detail: "unknown" },
  ];
  assert.deepEqual(planSteps("start", states), [
    { service: "a", op: "skip", line: "a: already running" },
    { service: "b", op: "start" },
    { service: "c", op: "start" },
  ]);
  assert.deepEqual(planSteps("stop", states), [
    { service: "c", op: "stop" },
    { service: "b", op: "skip", line: "b: already stopped" },
    { service: "a", op: "stop" },
  ]);
  assert.equal(stepLine("a", "start", true), "a: starting… ok");
  assert.equal(stepLine("a", "stop", false, "exit 1: boom"), "a: stopping… FAILED (exit 1: boom)");
});

Deno.test("planHandler() acts only on START, and on NULL only with its own lock file", () => {
  const lock = parseLockRecord(JSON.stringify({
    by: "powerconsul",
    action: "promote",
    name: "web",
    consulService: "web",
    pid: 1,
    at: "x",
  }))!;
  assert.deepEqual(planHandler("promote", "START", null, "web"), { op: "prepare" });
  assert.deepEqual(planHandler("promote", "NULL", lock, "web"), { op: "finish", lock });
  assert.equal(planHandler("demote", "NULL", lock, "web").op, "nothing", "another kind's lock");
  assert.equal(planHandler("promote", "NULL", lock, "db").op, "nothing", "another service");
  assert.equal(planHandler("promote", "NULL", null, "web").op, "nothing", "watch creation");
  assert.equal(planHandler("promote", "WAIT", lock, "web").op, "nothing");
  assert.equal(parseLockRecord("not json"), null);
});

Deno.test("planSwitch() swaps a standby's group or datacenters, refuses everything else", () => {
  const instances = [
    { node: "a", datacenter: "dc1" },
    { node: "b", datacenter: "dc1" },
    { node: "c", datacenter: "dc2" },
    { node: "d", datacenter: "dc2" },
  ];
  const swapFor = (raw: unknown, localDc = "dc1") => {
    const doc = parseClusterDoc(JSON.stringify(raw));
    return (node: string) =>
      planSwitch(
        doc,
        place({ doc, node, datacenter: localDc, datacenters: ["dc1", "dc2"] }),
        node,
        (pattern, roles) => withRoles(doc, pattern, roles, true),
        instances,
        localDc,
      );
  };
  const plain = swapFor({ active_nodes: ["a"], standby_nodes: ["b", "c", "z"], x: 1 })("b");
  assert.ok(typeof plain !== "string");
  assert.deepEqual(plain.promote, ["b", "c", "z"]);
  assert.deepEqual(plain.demote, ["a"]);
  assert.deepEqual(plain.next, {
    active_nodes: ["b", "c", "z"],
    standby_nodes: ["a"],
    x: 1,
    lock: true,
  });
  // each flag goes to the KV of its node's datacenter (a node without instance: the local one)
  assert.deepEqual(plain.participants, [
    { node: "a", kind: "demote", datacenter: "dc1" },
    { node: "b", kind: "promote", datacenter: "dc1" },
    { node: "c", kind: "promote", datacenter: "dc2" },
    { node: "z", kind: "promote", datacenter: "dc1" },
  ]);
  assert.deepEqual(plain.datacenters, ["dc1", "dc2"]);
  const filtered = swapFor({
    filter: { "db": { active_nodes: ["db1"], standby_nodes: ["db2"] }, "web": {} },
  })("db2");
  assert.ok(typeof filtered !== "string");
  assert.equal(filtered.pattern, "db");
  assert.deepEqual(filtered.next, {
    filter: { db: { active_nodes: ["db2"], standby_nodes: ["db1"], lock: true }, web: {} },
  });
  const dcs = swapFor({ active_datacenter: "dc1", standby_datacenter: "dc2" }, "dc2")("c");
  assert.ok(typeof dcs !== "string");
  assert.equal(dcs.mode, "datacenters");
  assert.deepEqual(dcs.next, { active_datacenter: "dc2", standby_datacenter: "dc1", lock: true });
  assert.deepEqual(dcs.participants, [
    { node: "a", kind: "demote", datacenter: "dc1" },
    { node: "b", kind: "demote", datacenter: "dc1" },
    { node: "c", kind: "promote", datacenter: "dc2" },
    { node: "d", kind: "promote", datacenter: "dc2" },
  ]);
  assert.match(
    swapFor({ active_datacenter: "dc1", standby_datacenter: "dc2" })("a") as string,
    /datacenter is already active/,
  );
  assert.match(swapFor(nodesDoc)("a") as string, /already active/);
  assert.match(swapFor({ ...nodesDoc, lock: true })("b") as string, /locked/);
  assert.match(swapFor({})("a") as string, /every node active/);
  assert.match(
    planSwitch(null, { kind: "standalone", reason: "" }, "a", () => ({})) as string,
    /standalone/,
  );
});
