// When a check renews the lease (pure): only a listed active, healthy in the catalog, whose
// probe answered; the expiry counts from the start of the run; the heartbeat at most every
// leaseSeconds/3. The outage rule extends a valid lease only with no server and every peer alive.
import assert from "node:assert/strict";
import { parseClusterDoc } from "../../../lib/cluster/doc.ts";
import { decide, place } from "../../../lib/cluster/role.ts";
import type { ClusterView } from "../../../lib/cluster/view.ts";
import { type Lease, renewedLease } from "../../../lib/ha/lease.ts";
import { heartbeatKey } from "../../../lib/cluster/facts.ts";
import {
  type Member,
  nodeHealthy,
  planFailsafe,
  planLease,
  planWithdraw,
} from "../../../lib/ha/renew.ts";
import { guardDownSteps, guardUpSteps } from "../../../lib/service/guarding.ts";
import { dcDoc, nodesDoc } from "../../_support/cluster.ts";

const SET = { consulService: "web", leaseSeconds: 9, servicePrefix: "service" };
const at = (boot: number) => ({ boot, wallMs: 0 });
const probed = { running: true, detail: "ok" };

function view(node: string, doc = nodesDoc(), datacenter = "dc1"): ClusterView {
  const placement = place({ doc, node, datacenter, datacenters: ["dc1", "dc2"] });
  return {
    key: "cluster/web",
    entry: null,
    doc,
    node,
    placement,
    actives: [],
    decision: decide(placement, []),
  };
}
const standalone = (): ClusterView => {
  const placement = place({ doc: null, node: "a1", datacenter: "dc1" });
  return { ...view("a1"), doc: null, placement, decision: decide(placement) };
};

Deno.test("planLease: renews a healthy listed active whose probe answered, from the run's start", () => {
  const p = planLease(view("a1"), probed, true, at(100), null, SET);
  assert.ok(p.renew);
  assert.equal(p.lease.path, "/run/powerconsul/lease/web@a1");
  assert.equal(p.lease.lease?.expires, 109);
  assert.equal(p.lease.lease?.renewed, 100);
  assert.deepEqual(p.lease.lease?.group, ["a2", "s1"]);
  assert.deepEqual(p.heartbeat, {
    kind: "kv-write",
    key: "service/web/a1/heartbeat",
    value: "100000",
    why: "show a standby this active still reaches the servers (heartbeat)",
  });
  // a stopped service keeps its lease (it may restart in place)
  assert.ok(planLease(view("a1"), { running: false, detail: "" }, true, at(1), null, SET).renew);
  // datacenter-level actives renew too
  assert.ok(planLease(view("a1", dcDoc()), probed, true, at(1), null, SET).renew);
});

Deno.test("planLease: never for standbys, standalone, all-active, an unhealthy node or no probe", () => {
  const cases: [string, ReturnType<typeof planLease>][] = [
    ["standby", planLease(view("s1"), probed, true, at(1), null, SET)],
    ["standalone", planLease(standalone(), probed, true, at(1), null, SET)],
    ["all-active", planLease(view("a1", parseClusterDoc("{}")), probed, true, at(1), null, SET)],
    ["unhealthy", planLease(view("a1"), probed, false, at(1), null, SET)],
    ["unknown health", planLease(view("a1"), probed, null, at(1), null, SET)],
    ["no probe", planLease(view("a1"), null, true, at(1), null, SET)],
  ];
  for (const [what, p] of cases) assert.equal(p.renew, false, what);
});

Deno.test("planLease: the heartbeat goes at most every leaseSeconds/3", () => {
  const first = planLease(view("a1"), probed, true, at(100), null, SET);
  assert.ok(first.renew && first.heartbeat);
  const prev = first.lease.lease!;
  const soon = planLease(view("a1"), probed, true, at(102), prev, SET);
  assert.ok(soon.renew);
  assert.equal(soon.heartbeat, null);
  assert.equal(soon.lease.lease?.heartbeatAt, 100);
  const due = planLease(view("a1"), probed, true, at(103), prev, SET);
  assert.ok(due.renew && due.heartbeat?.value === "103000");
  assert.equal(heartbeatKey("svc/x", "web", "n1"), "svc/x/web/n1/heartbeat");
});

Deno.test("nodeHealthy: serfHealth passing and no maintenance", () => {
  assert.equal(nodeHealthy([{ CheckID: "serfHealth", Status: "passing" }]), true);
  assert.equal(nodeHealthy([{ CheckID: "serfHealth", Status: "critical" }]), false);
  assert.equal(nodeHealthy([]), false);
  assert.equal(
    nodeHealthy([
      { CheckID: "serfHealth", Status: "passing" },
      { CheckID: "_node_maintenance", Status: "critical" },
    ]),
    false,
  );
});

const lease = (over: Partial<Lease> = {}): Lease => ({
  ...renewedLease({
    consulService: "web",
    node: "a1",
    leaseSeconds: 9,
    source: "check",
    heartbeatAt: 100,
    group: ["a2", "s1"],
  }, at(100)),
  ...over,
});
const m = (name: string, alive = true, server = false): Member => ({ name, alive, server });

Deno.test("planFailsafe: extends only with no server alive and every peer alive", () => {
  const members = [m("srv", false, true), m("a1"), m("a2"), m("s1")];
  const ok = planFailsafe("failsafe", lease(), members, at(105), SET);
  assert.ok(ok.renew);
  assert.equal(ok.lease.lease?.expires, 114);
  assert.equal(ok.lease.lease?.source, "failsafe");
  assert.deepEqual(ok.lease.lease?.group, ["a2", "s1"]);
  const no = (why: RegExp, p: ReturnType<typeof planFailsafe>) => {
    assert.equal(p.renew, false);
    assert.match(p.why, why);
  };
  no(/fence/, planFailsafe("fence", lease(), members, at(105), SET));
  no(
    /server srv is alive/,
    planFailsafe("failsafe", lease(), [m("srv", true, true), m("a2"), m("s1")], at(105), SET),
  );
  no(/s1 not alive/, planFailsafe("failsafe", lease(), [m("a2"), m("s1", false)], at(105), SET));
  no(/s1 not alive/, planFailsafe("failsafe", lease(), [m("a2")], at(105), SET));
  no(/no valid lease/, planFailsafe("failsafe", lease(), members, at(109), SET));
  no(/no valid lease/, planFailsafe("failsafe", null, members, at(105), SET));
  no(/could not be read/, planFailsafe("failsafe", lease(), null, at(105), SET));
  no(/no peers/, planFailsafe("failsafe", lease({ group: [] }), members, at(105), SET));
});

Deno.test("wrapper: start on an active writes the lease, then starts the guard; stop undoes both", () => {
  const g = {
    consulService: "web",
    services: ["db", "app"],
    leaseSeconds: 9,
    configPath: "/etc/p.json",
  };
  const up = guardUpSteps(view("a1"), g, at(50), "service start");
  assert.deepEqual(up.map((s) => `${s.kind}:${s.op}`), ["lease:renew", "guard:start"]);
  assert.equal(up[0]!.kind === "lease" && up[0]!.lease?.expires, 59);
  assert.deepEqual(up[1]!.kind === "guard" && up[1]!.args, [
    "-S",
    "web",
    "-s",
    "db,app",
    "--node",
    "a1",
    "--config",
    "/etc/p.json",
  ]);
  assert.deepEqual(guardUpSteps(view("s1"), g, at(50), "service start"), []);
  assert.deepEqual(guardUpSteps(standalone(), g, at(50), "service start"), []);
  assert.deepEqual(guardDownSteps("web", "a1").map((s) => `${s.kind}:${s.op}`), [
    "guard:stop",
    "lease:remove",
  ]);
});

Deno.test("planWithdraw: a node the servers list standby gives up a lease it still holds", () => {
  const sNodes = nodesDoc();
  const standbyView = view("s1", sNodes);
  assert.deepEqual(planWithdraw(standbyView, lease({ node: "s1" }), SET), {
    kind: "lease",
    op: "remove",
    id: "web@s1",
    path: "/run/powerconsul/lease/web@s1",
  });
  assert.equal(planWithdraw(standbyView, null, SET), null, "no lease held: nothing to give up");
  assert.equal(planWithdraw(view("a1", sNodes), lease(), SET), null, "still listed active");
  assert.equal(planWithdraw(standalone(), lease(), SET), null);
});
