import assert from "node:assert/strict";
import { parseKvSnapshot, SnapshotError, SnapshotFacts } from "../../../lib/cluster/snapshot.ts";
import { b64encode } from "../../../lib/consul/client.ts";
import { config } from "../../_support/cluster.ts";

Deno.test("parseKvSnapshot() decodes consul kv export JSON and names bad entries", () => {
  const m = parseKvSnapshot(
    JSON.stringify([
      { key: "a", flags: 3, value: b64encode("héllo") },
      { key: "b", flags: 0, value: "" },
    ]),
    "snap",
  );
  assert.equal(m.get("a")!.value, "héllo");
  assert.equal(m.get("a")!.flags, 3);
  assert.equal(m.get("b")!.value, "");
  assert.throws(() => parseKvSnapshot("{nope", "snap"), SnapshotError);
  assert.throws(() => parseKvSnapshot("{}", "snap"), /must be the JSON array/);
  assert.throws(() => parseKvSnapshot('[{"value":""}]', "snap"), /entry 0 has no "key"/);
  assert.throws(() => parseKvSnapshot('[{"key":"k","value":1}]', "snap"), /must be base64/);
  assert.throws(() => parseKvSnapshot('[{"key":"k","value":"%%%"}]', "snap"), /not valid base64/);
});

Deno.test("SnapshotFacts: datacenters from the documents, instances from the named nodes", async () => {
  const kv = parseKvSnapshot(
    JSON.stringify([
      {
        key: "cluster/web",
        flags: 0,
        value: b64encode(JSON.stringify({ active_nodes: ["a1"], standby_nodes: ["s1"] })),
      },
      {
        key: "cluster/db",
        flags: 0,
        value: b64encode(JSON.stringify({ active_datacenter: "dc3", standby_datacenter: "dc1" })),
      },
      { key: "cluster/broken", flags: 0, value: b64encode("{") },
      { key: "other/x", flags: 0, value: b64encode("{}") },
    ]),
    "snap",
  );
  const f = new SnapshotFacts(kv, config({ clusterKey: "cluster" }), {
    node: "s1",
    datacenter: "dc1",
    actives: "failing",
  });
  assert.deepEqual((await f.datacenters()).sort(), ["dc1", "dc3"]);
  assert.equal(await f.node(), "s1");
  assert.equal((await f.kvGet("cluster/web"))!.modifyIndex, 0);
  assert.equal(await f.kvGet("cluster/web", "dc3"), null, "only this datacenter's KV");
  const here = await f.serviceHealth("web");
  assert.deepEqual(here.map((i) => [i.node, i.passing, i.failing]), [
    ["a1", false, ["--actives=failing"]],
    ["s1", false, ["--actives=failing"]],
  ]);
  assert.deepEqual(await f.serviceHealth("web", "dc3"), [], "node documents: this datacenter");
  assert.deepEqual((await f.serviceHealth("db", "dc3")).map((i) => i.node), ["(dc3)"]);
});
