import assert from "node:assert/strict";
import { readClusterView } from "../../../lib/cluster/view.ts";
import { ConsulError } from "../../../lib/consul/http.ts";
import type { WireHealthCheck } from "../../../lib/consul/types.ts";
import { failsafeInCheck, fenceNote, renewInCheck } from "../../../lib/ha/check_lease.ts";
import { Executor } from "../../../lib/plan/apply.ts";
import { config, FakeFacts, kvEntry } from "../../_support/cluster.ts";
import { RecordingEffects } from "../../_support/fakes.ts";

const log = { info() {}, warn() {} };
const start = { boot: 1000, wallMs: 1_700_000_000_000 };
const dry = () => {
  const lines: string[] = [];
  return {
    lines,
    ex: new Executor(new RecordingEffects(), {
      dryRun: true,
      print: (l) => lines.push(l),
      dropRun: () => {},
    }),
  };
};
const never = {
  nodeHealth: () => Promise.reject(new Error("must not be asked")),
  agentMembers: () => Promise.reject(new Error("must not be asked")),
};

Deno.test("renewInCheck(): a standby renews nothing and asks nothing", async () => {
  const view = await readClusterView(
    new FakeFacts({
      node: "s1",
      datacenter: "dc1",
      kv: {
        "cluster/web": kvEntry("cluster/web", { active_nodes: ["a1"], standby_nodes: ["s1"] }),
      },
      health: { dc1: [] },
    }),
    config({ clusterKey: "cluster" }),
    "web",
  );
  const d = dry();
  await renewInCheck(never, config(), d.ex, "web", view, () => {}, start, log);
  assert.deepEqual(d.lines, []);
});

Deno.test("renewInCheck(): an active with its node healthy renews (a dry run prints it)", async () => {
  const view = await readClusterView(
    new FakeFacts({
      node: "a1",
      datacenter: "dc1",
      kv: {
        "cluster/web": kvEntry("cluster/web", { active_nodes: ["a1"], standby_nodes: ["s1"] }),
      },
    }),
    config({ clusterKey: "cluster" }),
    "web",
  );
  const d = dry();
  const healthy = {
    nodeHealth: () =>
      Promise.resolve([{ CheckID: "serfHealth", Status: "passing" }] as WireHealthCheck[]),
  };
  await renewInCheck(healthy, config(), d.ex, "web-unit-test", view, () => {}, start, log);
  assert.ok(
    d.lines.some((l) => /^would renew the lease .*web-unit-test@a1/.test(l)),
    d.lines.join("\n"),
  );
  const sick = {
    nodeHealth: () =>
      Promise.resolve([{ CheckID: "serfHealth", Status: "critical" }] as WireHealthCheck[]),
  };
  const d2 = dry();
  await renewInCheck(sick, config(), d2.ex, "web-unit-test", view, () => {}, start, log);
  assert.ok(!d2.lines.some((l) => /renew the lease/.test(l)), d2.lines.join("\n"));
});

Deno.test("failsafeInCheck(): with serverOutage fence (the default) nothing is asked or extended", async () => {
  const d = dry();
  const err = new ConsulError("no server", "no-server", "GET /v1/kv/x");
  await failsafeInCheck(never, config(), d.ex, "web", "a1", err, start, log);
  assert.deepEqual(d.lines, []);
  // failsafe ignores errors that are not an outage
  await failsafeInCheck(
    never,
    config({ serverOutage: "failsafe" }),
    d.ex,
    "web",
    "a1",
    new Error("x"),
    start,
    log,
  );
  assert.deepEqual(d.lines, []);
});

Deno.test("fenceNote(): nothing without a node or a fence marker", async () => {
  assert.equal(await fenceNote("web", null), "");
  assert.equal(await fenceNote("no-such-service-unit-test", "nobody"), "");
});
