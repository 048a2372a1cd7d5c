import assert from "node:assert/strict";
import {
  AGENT_MEMBERS,
  b64decode,
  b64encode,
  decodeKv,
  memberStatus,
  NODE_CHECKS,
} from "../../../lib/consul/wire.ts";

Deno.test("decodeKv() reads Consul's KV wire format", () => {
  const kv = decodeKv({
    Key: "k",
    Value: btoa("héllo".replace(/é/, "e")),
    CreateIndex: 1,
    ModifyIndex: 7,
    LockIndex: 0,
    Flags: 0,
  });
  assert.equal(kv.value, "hello");
  assert.equal(kv.modifyIndex, 7);
  assert.equal(
    decodeKv({ Key: "k", Value: null, CreateIndex: 1, ModifyIndex: 2, LockIndex: 0, Flags: 0 })
      .value,
    null,
  );
});

Deno.test("b64encode()/b64decode() carry UTF-8 both ways", () => {
  for (const s of ["", "héllo", "ключ", "a\u0000b", "🙂"]) assert.equal(b64decode(b64encode(s)), s);
  assert.equal(b64encode("héllo"), "aMOpbGxv");
});

Deno.test("AGENT_MEMBERS/NODE_CHECKS shapes and memberStatus()", () => {
  assert.equal(AGENT_MEMBERS([{ Name: "a", Status: 1, Addr: "x" }]), null);
  assert.match(AGENT_MEMBERS([{ Name: "a", Status: "alive" }])!, /Status should be number/);
  assert.match(AGENT_MEMBERS({})!, /expected an array/);
  assert.equal(NODE_CHECKS([{ CheckID: "serfHealth", Status: "passing" }]), null);
  assert.match(NODE_CHECKS([{ CheckID: 1 }])!, /CheckID/);
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(memberStatus), [
    null,
    "alive",
    "leaving",
    "left",
    "failed",
    null,
  ]);
});
