import assert from "node:assert/strict";
import { heldBy, type SessionKv, takeSwitchLock } from "../../../lib/service/switch_lock.ts";

function fakeSessions(holder: string | null) {
  const calls: string[] = [];
  let session: string | null = holder === null ? null : "theirs";
  let value = holder;
  const kv: SessionKv = {
    sessionCreate: (o) => {
      calls.push(`create ${o.name} ttl=${o.ttl} ${o.behavior} delay=${o.lockDelay}`);
      return Promise.resolve("mine");
    },
    sessionRenew: () => Promise.resolve(true),
    sessionDestroy: (id) => {
      calls.push(`destroy ${id}`);
      return Promise.resolve(true);
    },
    kvPut: (key, v, o) => {
      calls.push(`put ${key} acquire=${o.acquire}`);
      if (session !== null) return Promise.resolve(false);
      session = o.acquire ?? null;
      value = v;
      return Promise.resolve(true);
    },
    kvGet: () => Promise.resolve(value === null ? null : { value, modifyIndex: 3, session }),
    kvDelete: (key, o) => {
      calls.push(`delete ${key} cas=${o.cas}`);
      session = null;
      value = null;
      return Promise.resolve(true);
    },
  };
  return { kv, calls };
}

Deno.test("takeSwitchLock(): a session lock with TTL and delete behaviour, released cleanly", async () => {
  const f = fakeSessions(null);
  const lock = await takeSwitchLock(f.kv, "service/web/.switch", {
    action: "start-primary",
    node: "n3",
  });
  await lock.release();
  assert.deepEqual(f.calls, [
    "create powerconsul start-primary on n3 ttl=15s delete delay=0s",
    "put service/web/.switch acquire=mine",
    "delete service/web/.switch cas=3",
    "destroy mine",
  ]);
});

Deno.test("takeSwitchLock(): held by another switch: refused naming it, our session destroyed", async () => {
  const f = fakeSessions(JSON.stringify({ node: "n9", pid: 7, action: "start-primary", at: "t" }));
  await assert.rejects(
    () => takeSwitchLock(f.kv, "service/web/.switch", { action: "start-primary", node: "n3" }),
    {
      message: "another switch holds service/web/.switch: start-primary on n9 (pid 7, since t); " +
        "wait for it to finish (or time out)",
    },
  );
  assert.equal(f.calls.at(-1), "destroy mine");
});

Deno.test("heldBy(): a holder that just left, and one that is garbled", () => {
  assert.match(heldBy("k", null), /^another switch held k and has just finished/);
  assert.match(heldBy("k", { value: "x", session: "s" }), /holds k: another operator;/);
});
