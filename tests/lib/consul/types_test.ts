// The wire shapes are what the client's edge checks: an answer as Consul 1.8 sends it passes
// the shape check and reads as the typed value; a field of the wrong type is caught there.
import assert from "node:assert/strict";
import type { WireAgentSelf, WireHealthEntry, WireKvPair } from "../../../lib/consul/types.ts";
import { decodeKv, HEALTH_ENTRIES, SHAPES } from "../../../lib/consul/wire.ts";

const entry: WireHealthEntry = {
  Node: { Node: "n1", Address: "10.0.0.1", Datacenter: "dc1" },
  Service: { ID: "web1", Service: "web", Tags: null, Port: 80 },
  Checks: [{
    Node: "n1",
    CheckID: "serfHealth",
    Name: "Serf Health Status",
    Status: "passing",
    ServiceID: "",
    ServiceName: "",
  }],
};

Deno.test("WireHealthEntry: a Consul answer of this shape passes the edge's check", () => {
  assert.equal(HEALTH_ENTRIES([entry]), null);
  const broken = structuredClone(entry) as unknown as { Checks: unknown };
  broken.Checks = "none";
  assert.notEqual(HEALTH_ENTRIES([broken]), null);
});

Deno.test("WireKvPair: decoded into a KvEntry (base64 value, null session)", () => {
  const pair: WireKvPair = {
    Key: "cluster/web",
    Value: btoa("{}"),
    CreateIndex: 1,
    ModifyIndex: 5,
    LockIndex: 0,
    Flags: 0,
  };
  assert.equal(SHAPES.kvPairs([pair]), null);
  const kv = decodeKv(pair);
  assert.equal(kv.key, "cluster/web");
  assert.equal(kv.value, "{}");
  assert.equal(kv.modifyIndex, 5);
  assert.equal(kv.session, null);
});

Deno.test("WireAgentSelf: the fields read from /v1/agent/self", () => {
  const self: WireAgentSelf = { Config: { Datacenter: "dc1", NodeName: "n1" } };
  assert.equal(SHAPES.agentSelf(self), null);
  assert.notEqual(SHAPES.agentSelf({ Config: { Datacenter: 1, NodeName: "n1" } }), null);
  assert.notEqual(SHAPES.agentSelf({ Member: {} }), null);
});
