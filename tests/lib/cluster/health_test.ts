import assert from "node:assert/strict";
import { toInstance } from "../../../lib/cluster/health.ts";

Deno.test("toInstance() passes an instance only when every check on it passes", () => {
  const entry = {
    Node: { Node: "n1", Address: "127.0.0.1", Datacenter: "dc1" },
    Service: { ID: "web", Service: "web", Tags: null },
    Checks: [
      {
        Node: "n1",
        CheckID: "serfHealth",
        Name: "",
        Status: "critical",
        Output: "Agent not live or unreachable",
        ServiceID: "",
        ServiceName: "",
      },
      {
        Node: "n1",
        CheckID: "web-check",
        Name: "",
        Status: "passing",
        ServiceID: "web",
        ServiceName: "web",
      },
    ],
  };
  const i = toInstance(entry);
  assert.equal(i.passing, false, "a dead node (serfHealth critical) is not passing");
  assert.deepEqual(i.failing, ["serfHealth=critical"]);
  assert.equal(i.pending, false, "serfHealth critical is a real failure");
  assert.equal(toInstance({ ...entry, Checks: [] }).passing, true);
  const fresh = toInstance({
    ...entry,
    Checks: [{ ...entry.Checks[1]!, Status: "critical", Output: "" }],
  });
  assert.equal(fresh.passing, false);
  assert.equal(fresh.pending, true, "a check that has not run yet is pending");
  const claim = toInstance({
    ...entry,
    Checks: [{
      ...entry.Checks[1]!,
      ModifyIndex: 42,
      Output: '{"type":"service","expects":true,"state":"passing"}\n',
    }],
  });
  assert.equal(claim.checksIndex, 42);
  assert.equal(claim.claimsActive, true);
  assert.equal(i.claimsActive, false);
});

Deno.test("toInstance(): node maintenance fails the instance; a warning is not passing", () => {
  const base = {
    Node: { Node: "n1", Address: "127.0.0.1", Datacenter: "dc1" },
    Service: { ID: "web", Service: "web", Tags: ["a"] },
  };
  const check = (CheckID: string, Status: string, Output = "out") => ({
    Node: "n1",
    CheckID,
    Name: "",
    Status,
    Output,
    ServiceID: "",
    ServiceName: "",
  });
  const maint = toInstance({
    ...base,
    Checks: [check("_node_maintenance", "critical"), check("web", "passing")],
  });
  assert.equal(maint.passing, false);
  assert.deepEqual(maint.failing, ["_node_maintenance=critical"]);
  assert.equal(maint.pending, false);
  assert.deepEqual(maint.tags, ["a"]);
  const warn = toInstance({ ...base, Checks: [check("web", "warning")] });
  assert.equal(warn.passing, false);
  assert.deepEqual(warn.failing, ["web=warning"]);
  assert.equal(warn.pending, false, "only a critical check with no output is 'not run yet'");
});

Deno.test("toInstance(): node health apart from service health; an unknown answer is told", () => {
  const check = (CheckID: string, Status: string, ServiceID: string, Output = "x") => ({
    Node: "n1",
    CheckID,
    Name: "",
    Status,
    Output,
    ServiceID,
    ServiceName: ServiceID,
  });
  const entry = (checks: ReturnType<typeof check>[]) => ({
    Node: { Node: "n1", Address: "", Datacenter: "dc1" },
    Service: { ID: "web", Service: "web", Tags: null },
    Checks: checks,
  });
  const failed = toInstance(
    entry([check("serfHealth", "passing", ""), check("w", "critical", "web")]),
  );
  assert.equal(failed.nodeHealthy, true);
  assert.deepEqual(failed.nodeFailing, []);
  assert.equal(failed.unknown, false);
  const cut = toInstance(
    entry([check("serfHealth", "critical", ""), check("w", "passing", "web")]),
  );
  assert.equal(cut.nodeHealthy, false);
  assert.deepEqual(cut.nodeFailing, ["serfHealth=critical"]);
  const maint = toInstance(entry([check("_node_maintenance", "critical", "")]));
  assert.equal(maint.nodeHealthy, false);
  const line = JSON.stringify({ state: "unknown", message: "no server" });
  const unknown = toInstance(entry([check("w", "critical", "web", line)]));
  assert.equal(unknown.unknown, true);
  assert.equal(unknown.nodeHealthy, true);
});
