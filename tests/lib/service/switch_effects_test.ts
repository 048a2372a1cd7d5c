import assert from "node:assert/strict";
import type { AwaitKeysStep } from "../../../lib/plan/step.ts";
import { awaitKeys, commonPrefix, type ListKv } from "../../../lib/service/switch_effects.ts";
import { FakeKv } from "../../_support/fake_kv.ts";
import { FakeClock } from "../../_support/fakes.ts";

/** Blocking reads on a fake KV: with nothing new, a read returns after its wait. */
function listKv(kv: FakeKv, clock: FakeClock, reads: string[] = []): ListKv {
  return {
    kvList: (prefix, o) => {
      reads.push(`${prefix} dc=${o.dc ?? "-"} index=${o.index ?? "-"} wait=${o.wait ?? "-"}`);
      if (o.index !== undefined && kv.index <= o.index && o.wait) {
        clock.advance(parseInt(o.wait) * 1000);
      }
      return Promise.resolve({ entries: kv.list(prefix, o.dc), index: kv.index });
    },
  };
}

const step = (keys: AwaitKeysStep["keys"], timeoutMs = 10_000): AwaitKeysStep => ({
  kind: "await-keys",
  keys,
  value: "WAIT",
  failValue: "FAILED",
  timeoutMs,
});

Deno.test("commonPrefix() is the shared folder of the keys", () => {
  assert.equal(commonPrefix(["service/web/a/demote", "service/web/b/promote"]), "service/web/");
  assert.equal(commonPrefix(["service/web/a/demote"]), "service/web/a/");
  assert.equal(commonPrefix([]), "");
});

Deno.test("awaitKeys(): WAIT answers, START keeps waiting until the timeout, FAILED ends at once", async () => {
  const clock = new FakeClock();
  const kv = new FakeKv();
  kv.put("service/web/a/demote", "WAIT");
  kv.put("service/web/b/promote", "START");
  const heard: string[] = [];
  const reads: string[] = [];
  const t0 = clock.now();
  const r = await awaitKeys(
    listKv(kv, clock, reads),
    step([{ key: "service/web/a/demote" }, { key: "service/web/b/promote" }]),
    clock.now,
    (k, v) => heard.push(`${k}=${v}`),
  );
  assert.deepEqual(r, { silent: ["service/web/b/promote"], failed: [] });
  assert.deepEqual(heard, ["service/web/a/demote=WAIT"]);
  assert.equal(clock.now() - t0, 10_000, "waited exactly the timeout");
  assert.match(reads[1]!, /^service\/web\/ dc=- index=\d+ wait=10s$/, "then blocking reads");

  const f = new FakeKv();
  f.put("service/web/c/promote", "FAILED");
  f.put("service/web/a/demote", "START");
  const c2 = new FakeClock();
  const failed = await awaitKeys(
    listKv(f, c2),
    step([{ key: "service/web/a/demote" }, { key: "service/web/c/promote" }]),
    c2.now,
  );
  assert.deepEqual(failed, { silent: ["service/web/a/demote"], failed: ["service/web/c/promote"] });
  assert.equal(c2.now(), new FakeClock().now(), "no waiting once a node failed");
});

Deno.test("awaitKeys(): each datacenter's keys are read in that datacenter; a late answer counts", async () => {
  const clock = new FakeClock();
  const kv = new FakeKv("dc1");
  kv.put("service/web/a/demote", "WAIT", { dc: "dc2" });
  kv.put("service/web/b/promote", "START");
  let reads = 0;
  const inner = listKv(kv, clock);
  const lk: ListKv = {
    kvList: async (p, o) => {
      if (++reads === 3) kv.put("service/web/b/promote", "wait\n"); // trimmed, any case
      return await inner.kvList(p, o);
    },
  };
  const r = await awaitKeys(
    lk,
    step([{ key: "service/web/a/demote", dc: "dc2" }, { key: "service/web/b/promote" }]),
    clock.now,
  );
  assert.deepEqual(r, { silent: [], failed: [] });
});
