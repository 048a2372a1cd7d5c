import assert from "node:assert/strict";
import { IdentityCache, resolveCluster } from "../../../lib/cluster/resolve.ts";
import type { ConsulClient } from "../../../lib/consul/client.ts";
import { config } from "../../_support/cluster.ts";
import { MemoryTakeoverStore } from "../../../lib/cluster/takeover_store.ts";

Deno.test("resolveCluster() is the view over the live agent", async () => {
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
  } as unknown as ConsulClient;
  const cfg = config({ clusterKey: "cluster" });
  const store = new MemoryTakeoverStore(() => 1000);
  const v = await resolveCluster(consul, cfg, "web", new IdentityCache(consul, cfg), store);
  assert.equal(v.node, "s1");
  assert.equal(
    v.decision.reason,
    "node s1 is listed standby; an active instance is passing (a1:passing)",
  );
});
