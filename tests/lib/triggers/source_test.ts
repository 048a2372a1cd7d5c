// Where a trigger's facts come from: a KV snapshot read through the one cluster view.
import assert from "node:assert/strict";
import { DEFAULTS } from "../../../lib/config.ts";
import type { Config } from "../../../lib/config.ts";
import { b64encode, type ConsulClient } from "../../../lib/consul/client.ts";
import { parseKvSnapshot, type SnapshotStatement } from "../../../lib/cluster/snapshot.ts";
import { LiveSource, SnapshotSource } from "../../../lib/triggers/source.ts";

const config = (over: Partial<Config> = {}): Config => ({
  ...structuredClone(DEFAULTS) as Config,
  ...over,
});

const snap = (entries: Record<string, string>) =>
  parseKvSnapshot(
    JSON.stringify(
      Object.entries(entries).map(([key, v]) => ({ key, flags: 0, value: b64encode(v) })),
    ),
    "snap",
  );

Deno.test("SnapshotSource.role() resolves like the agent would, from the stated health", async (t) => {
  const doc = JSON.stringify({ active_nodes: ["a1"], standby_nodes: ["s1"] });
  const cfg = config({ clusterKey: "cluster" });
  const cases: Record<string, [string, string, "passing" | "failing" | undefined, string, string]> =
    {
      "active": [doc, "a1", undefined, "primary", "node a1 is listed active"],
      "standby, actives passing": [
        doc,
        "s1",
        "passing",
        "secondary",
        "node s1 is listed standby; an active instance is passing",
      ],
      "standby, actives failing: acts as primary": [
        doc,
        "s1",
        "failing",
        "primary",
        "node s1 is listed standby; no active instance passing: acting as primary",
      ],
      "standby, locked: stays secondary": [
        JSON.stringify({ active_nodes: ["a1"], standby_nodes: ["s1"], lock: true }),
        "s1",
        "failing",
        "secondary",
        "node s1 is listed standby; no active instance passing but the cluster document is " +
        "locked (a switch is under way): staying stopped",
      ],
      "datacenter document": [
        JSON.stringify({ active_datacenter: "dc1", standby_datacenter: "dc2" }),
        "x",
        "failing",
        "primary",
        "datacenter dc2 is standby; no active instance passing: acting as primary",
      ],
    };
  for (const [name, [d, node, actives, role, why]] of Object.entries(cases)) {
    await t.step(name, async () => {
      const stated: SnapshotStatement = {
        node,
        datacenter: name.startsWith("datacenter") ? "dc2" : "dc1",
        ...(actives === undefined ? {} : { actives }),
      };
      const r = await new SnapshotSource(snap({ "cluster/web": d }), cfg, stated).role("web");
      assert.equal(r.role, role);
      assert.equal(r.why, why);
    });
  }
  await t.step("no clusterKey: standalone", async () => {
    const src = new SnapshotSource(snap({ "cluster/web": doc }), config(), {
      node: "s1",
      datacenter: "",
    });
    const r = await src.role("web");
    assert.equal(r.role, "standalone");
    assert.equal(r.why, "no cluster document: standalone");
  });
  await t.step("a standby without --actives is a usage error", async () => {
    const src = new SnapshotSource(snap({ "cluster/web": doc }), cfg, {
      node: "s1",
      datacenter: "dc1",
    });
    await assert.rejects(src.role("web"), /--actives passing\|failing/);
  });
});

Deno.test("SnapshotSource.kv() returns the snapshot's values; null when missing", async () => {
  const src = new SnapshotSource(snap({ "t/web/standalone/critical": "/bin/true" }), config(), {
    node: "n1",
    datacenter: "dc1",
  });
  assert.equal(await src.kv("t/web/standalone/critical"), "/bin/true");
  assert.equal(await src.kv("t/web/standalone/warning"), null);
  assert.equal(await src.localNode(), "n1");
  assert.equal(await src.datacenter(), "dc1");
  assert.equal(await src.checkStatus(), null);
});

Deno.test("LiveSource.role(): a standby with no active registered says so (not 'has not reported')", async () => {
  const consul = {
    agentSelf: () => Promise.resolve({ node: "s1", datacenter: "dc1" }),
    kvGet: (key: string) =>
      Promise.resolve({
        key,
        value: JSON.stringify({ active_nodes: ["a1"], standby_nodes: ["s1"] }),
        modifyIndex: 3,
        createIndex: 1,
        lockIndex: 0,
        flags: 0,
        session: null,
      }),
    serviceHealth: () => Promise.resolve([]),
    datacenters: () => Promise.resolve(["dc1"]),
    kvList: () => Promise.resolve({ entries: [], index: 1 }),
    agentMembers: () => Promise.resolve([]),
    nodeHealth: () => Promise.resolve([]),
  } as unknown as ConsulClient;
  const r = await new LiveSource(consul, config({ clusterKey: "cluster" })).role("web");
  assert.equal(r.role, "secondary");
  assert.equal(
    r.why,
    "node s1 is listed standby; no active instance is registered in the catalog: not taking " +
      "over on an absence (register the service on the actives, or run start-primary)",
  );
  assert.equal(r.detail, r.why);
});
