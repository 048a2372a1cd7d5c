import assert from "node:assert/strict";
import { readClusterView } from "../../../lib/cluster/view.ts";
import { guardDownSteps, guardUpSteps, wantsGuard } from "../../../lib/service/guarding.ts";
import { config, FakeFacts, kvEntry, up } from "../../_support/cluster.ts";

const cfg = config({ clusterKey: "cluster" });
const viewOf = (node: string, doc: unknown) =>
  readClusterView(
    new FakeFacts({
      node,
      datacenter: "dc1",
      kv: { "cluster/web": kvEntry("cluster/web", doc, 7) },
      health: {
        dc1: [
          {
            ...up("a1"),
            serviceId: "web",
            service: "web",
            tags: [],
            checksIndex: 1,
            claimsActive: false,
          } as never,
        ],
      },
    }),
    cfg,
    "web",
  );
const doc = { active_nodes: ["a1"], standby_nodes: ["s1"] };
const inputs = {
  consulService: "web",
  services: ["web"],
  leaseSeconds: 10,
  configPath: "/etc/p.json",
};
const start = { boot: 1000, wallMs: 1_700_000_000_000 };

Deno.test("wantsGuard(): only a node listed active gets a lease and a guard", async () => {
  assert.equal(wantsGuard(await viewOf("a1", doc)), true);
  assert.equal(wantsGuard(await viewOf("s1", doc)), false);
  // every node active: no standby could take over, so no lease is needed
  assert.equal(wantsGuard(await viewOf("a1", {})), false);
});

Deno.test("guardUpSteps(): a fresh lease first, then the guard with the wrapper's config", async () => {
  const steps = guardUpSteps(await viewOf("a1", doc), inputs, start, "service start");
  assert.deepEqual(steps.map((s) => `${s.kind}:${s.op}`), ["lease:renew", "guard:start"]);
  const guard = steps[1] as { args: string[]; id: string };
  assert.deepEqual(guard.args, [
    "-S",
    "web",
    "-s",
    "web",
    "--node",
    "a1",
    "--config",
    "/etc/p.json",
  ]);
  assert.equal(guard.id, "web@a1");
  assert.deepEqual(guardUpSteps(await viewOf("s1", doc), inputs, start, "x"), []);
});

Deno.test("guardDownSteps(): the guard stops before its lease goes; nothing without a node", () => {
  assert.deepEqual(
    guardDownSteps("web", "a1").map((s) => `${s.kind}:${s.op}`),
    ["guard:stop", "lease:remove"],
  );
  assert.deepEqual(guardDownSteps("web", ""), []);
});
