import assert from "node:assert/strict";
import { syncIo } from "../../../lib/sys/small_io.ts";

Deno.test("syncIo(): the value resolves, a throw rejects (never escapes synchronously)", async () => {
  assert.equal(await syncIo(() => 7), 7);
  let p: Promise<never> | undefined;
  assert.doesNotThrow(() => {
    p = syncIo(() => {
      throw new Deno.errors.NotFound("gone");
    });
  });
  await assert.rejects(p!, Deno.errors.NotFound);
});
