import assert from "node:assert/strict";
import {
  b64decode,
  b64encode,
  decodeKv,
  decodeMembers,
  MEMBERS,
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

Deno.test("txnBody()/txnCasFailure(): operations encoded; a failed check told from a refusal", async () => {
  const { txnBody, txnCasFailure } = await import("../../../lib/consul/wire.ts");
  assert.deepEqual(
    txnBody([
      { verb: "cas", key: "a", value: "é", index: 0 },
      { verb: "delete-cas", key: "b", index: 7 },
    ]),
    [
      { KV: { Verb: "cas", Key: "a", Value: "w6k=", Index: 0 } },
      { KV: { Verb: "delete-cas", Key: "b", Index: 7 } },
    ],
  );
  assert.equal(txnCasFailure('failed to set key "cluster/web", index is stale'), true);
  assert.equal(txnCasFailure("current modify index 5 != 4"), true);
  assert.equal(txnCasFailure('key "x" doesn\'t exist'), true);
  assert.equal(txnCasFailure("Permission denied"), false);
});

Deno.test("MEMBERS/NODE_CHECKS shapes, memberStatus() and decodeMembers()", () => {
  assert.equal(MEMBERS([{ Name: "a", Status: 1, Addr: "x" }]), null);
  assert.match(MEMBERS([{ Name: "a", Status: "alive" }])!, /Status should be number/);
  assert.match(MEMBERS({})!, /expected an array/);
  assert.deepEqual(
    decodeMembers([{ Name: "s", Status: 1, Tags: { role: "consul" } }, { Name: "c", Status: 3 }]),
    [
      { name: "s", status: "alive", alive: true, server: true },
      { name: "c", status: "left", alive: false, server: false },
    ],
  );
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
