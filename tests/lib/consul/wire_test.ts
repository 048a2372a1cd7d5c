import assert from "node:assert/strict";
import { b64decode, b64encode, decodeKv } from "../../../lib/consul/wire.ts";

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
