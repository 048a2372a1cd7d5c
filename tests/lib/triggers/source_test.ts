// Where a trigger's facts come from: KV snapshots and the role sentence.
import assert from "node:assert/strict";
import { DEFAULTS } from "../../../lib/config.ts";
import type { Config } from "../../../lib/config.ts";
import { b64encode } from "../../../lib/consul/client.ts";
import { parseKvExport, roleWhy, SnapshotSource } from "../../../lib/triggers/source.ts";
import { decide, place } from "../../../lib/cluster/role.ts";
import { parseClusterDoc } from "../../../lib/cluster/doc.ts";

const config = (over: Partial<Config> = {}): Config => ({
  ...structuredClone(DEFAULTS) as Config,
  ...over,
});

Deno.test("parseKvExport() decodes consul kv export JSON and names bad entries", () => {
  const m = parseKvExport(
    JSON.stringify([
      { key: "a", flags: 0, value: b64encode("héllo") },
      { key: "b", flags: 0, value: "" },
    ]),
    "snap",
  );
  assert.equal(m.get("a"), "héllo");
  assert.equal(m.get("b"), "");
  assert.throws(() => parseKvExport("{}", "snap"), /must be the JSON array/);
  assert.throws(() => parseKvExport('[{"value":""}]', "snap"), /entry 0 has no "key"/);
  assert.throws(() => parseKvExport('[{"key":"k","value":"%%%"}]', "snap"), /not valid base64/);
});

Deno.test("SnapshotSource.role() resolves like the agent would, from the stated health", async (t) => {
  const doc = JSON.stringify({ active_nodes: ["a1"], standby_nodes: ["s1"] });
  const kv = (d: string) => new Map([["cluster/web", d]]);
  const cfg = config({ clusterKey: "cluster" });
  const cases: Record<string, [string, string, "passing" | "failing" | undefined, string, RegExp]> =
    {
      "active": [doc, "a1", undefined, "primary", /listed active/],
      "standby, actives passing": [
        doc,
        "s1",
        "passing",
        "secondary",
        /an active instance is passing/,
      ],
      "standby, actives failing: acts as primary": [
        doc,
        "s1",
        "failing",
        "primary",
        /acting as primary/,
      ],
      "standby, locked: stays secondary": [
        JSON.stringify({ active_nodes: ["a1"], standby_nodes: ["s1"], lock: true }),
        "s1",
        "failing",
        "secondary",
        /locked/,
      ],
      "datacenter document": [
        JSON.stringify({ active_datacenter: "dc1", standby_datacenter: "dc2" }),
        "x",
        "failing",
        "primary",
        /datacenter dc2 is standby/,
      ],
    };
  for (const [name, [d, node, actives, role, why]] of Object.entries(cases)) {
    await t.step(name, async () => {
      const dc = name.startsWith("datacenter") ? "dc2" : "dc1";
      const r = await new SnapshotSource(kv(d), cfg, node, dc, actives).role("web");
      assert.equal(r.role, role);
      assert.match(r.why, why);
    });
  }
  await t.step("no clusterKey: standalone", async () => {
    const r = await new SnapshotSource(kv(doc), config(), "s1", "", undefined).role("web");
    assert.equal(r.role, "standalone");
  });
  await t.step("a standby without --actives is a usage error", async () => {
    await assert.rejects(
      new SnapshotSource(kv(doc), cfg, "s1", "dc1", undefined).role("web"),
      /--actives passing\|failing/,
    );
  });
});

Deno.test("roleWhy() carries no instance detail, so live and offline plans read the same", () => {
  const doc = parseClusterDoc(JSON.stringify({ active_nodes: ["a"], standby_nodes: ["s"] }));
  const p = place({ doc, node: "s", datacenter: "dc1" });
  const live = decide(p, [{
    node: "a",
    datacenter: "dc1",
    passing: false,
    failing: ["serfHealth=critical"],
  }]);
  const offline = decide(p, [{ node: "a", datacenter: "", passing: false, failing: ["x"] }]);
  assert.notEqual(live.reason, offline.reason);
  assert.equal(roleWhy(p, live), roleWhy(p, offline));
});
