import assert from "node:assert/strict";
import { ROOT_ONLY } from "../../_support/root.ts";
import {
  bootSeconds,
  FileTakeoverStore,
  parseState,
  sameClock,
} from "../../../lib/cluster/takeover_store.ts";
import { fresh, observe } from "../../../lib/cluster/takeover.ts";
import { cutOff, seen } from "../../_support/takeover.ts";
import { TIMING } from "../../_support/takeover.ts";

const sample = () => observe(fresh(), 1000, { actives: [cutOff("a1")], lockedIndex: 7 }, TIMING);

Deno.test(
  "FileTakeoverStore: saves by rename in a root-only directory, loads it back",
  ROOT_ONLY,
  async () => {
    const base = await Deno.makeTempDir();
    try {
      let wall = 1500;
      let boot = 100;
      const store = new FileTakeoverStore(`${base}/state`, () => wall, () => boot);
      assert.deepEqual(await store.load("web", "s1"), fresh(), "missing: fresh");
      await store.save("web", "s1", sample());
      assert.deepEqual(await store.load("web", "s1"), sample());
      assert.equal((await Deno.stat(`${base}/state`)).mode! & 0o777, 0o700);
      assert.equal((await Deno.stat(`${base}/state/web@s1.json`)).mode! & 0o777, 0o600);
      assert.deepEqual(
        [...Deno.readDirSync(`${base}/state`)].map((e) => e.name),
        ["web@s1.json"],
        "no temporary file left",
      );
      assert.equal(store.now(), 1500);
      assert.equal(JSON.parse(await Deno.readTextFile(`${base}/state/web@s1.json`)).boot, 100);
      wall = 11_500;
      boot = 110;
      assert.deepEqual(await store.load("web", "s1"), sample(), "both clocks moved 10 s");
      wall = 61_500;
      assert.deepEqual(await store.load("web", "s1"), fresh(), "the wall clock stepped 50 s");
      wall = 500;
      boot = 100;
      assert.deepEqual(await store.load("web", "s1"), fresh(), "the wall clock went back");
      wall = 1500;
      // corrupt or foreign content is a fresh start
      await Deno.writeTextFile(`${base}/state/web@s1.json`, "{not json");
      assert.deepEqual(await store.load("web", "s1"), fresh());
      await Deno.remove(`${base}/state/web@s1.json`);
      await Deno.symlink(`${base}/elsewhere`, `${base}/state/web@s1.json`);
      await Deno.writeTextFile(`${base}/elsewhere`, JSON.stringify(sample()));
      assert.deepEqual(await store.load("web", "s1"), fresh(), "a symlink is not followed");
      await assert.rejects(store.save("a/b", "s1", sample()), /Consul service/);
    } finally {
      await Deno.remove(base, { recursive: true });
    }
  },
);

Deno.test(
  "FileTakeoverStore refuses a state directory other users can write",
  ROOT_ONLY,
  async () => {
    const base = await Deno.makeTempDir();
    try {
      await Deno.chmod(base, 0o777);
      const store = new FileTakeoverStore(base, () => 1);
      await assert.rejects(
        store.save("web", "s1", fresh()),
        /state directory .* writable by other users/,
      );
    } finally {
      await Deno.remove(base, { recursive: true });
    }
  },
);

Deno.test("parseState(): anything but a well-formed state is fresh", () => {
  const good = sample();
  assert.deepEqual(parseState(JSON.stringify(good)), good);
  const bad = [
    "",
    "null",
    "[]",
    JSON.stringify({ ...good, at: "x" }),
    JSON.stringify({ ...good, nodes: [] }),
    JSON.stringify({ ...good, nodes: { a1: { ...good.nodes.a1, class: "odd" } } }),
    JSON.stringify({ ...good, nodes: { a1: { ...good.nodes.a1, since: "1" } } }),
    JSON.stringify({ ...good, nodes: { a1: { ...good.nodes.a1, heartbeat: { index: 1 } } } }),
    JSON.stringify({ ...good, lock: { index: 1 } }),
  ];
  for (const text of bad) assert.deepEqual(parseState(text), fresh(), text);
});

Deno.test("sameClock(): the wall clock may drift from the boot clock by the slack, no more", () => {
  assert.equal(sameClock(null, null, 5, 1), true, "fresh");
  assert.equal(sameClock(1000, 10, 3000, 12), true);
  assert.equal(sameClock(1000, 10, 3000, 11), true, "a second of rounding");
  assert.equal(sameClock(1000, 10, 9000, 12), false, "6 s more on the wall clock");
  assert.equal(sameClock(1000, 10, 900, 10), false, "backwards");
  assert.equal(sameClock(1000, null, 9000, 12), true, "no boot clock: the wall clock alone");
  const b = bootSeconds();
  assert.ok(b === null || b > 0);
});

Deno.test("parseState(): a failure episode's check index and heal mark are kept; a bad mark is dropped", () => {
  const obs = seen("a1", { passing: false, failing: ["web=critical"], checksIndex: 100 }, {
    mark: { index: 104, state: "healing" },
  });
  const state = observe(fresh(), 1000, { actives: [obs], lockedIndex: null }, TIMING);
  assert.equal(state.nodes.a1!.episode, 100);
  assert.deepEqual(state.nodes.a1!.mark, { index: 104, state: "healing", seenAt: 1000 });
  assert.deepEqual(parseState(JSON.stringify(state)), state);
  const odd = { ...state, nodes: { a1: { ...state.nodes.a1!, mark: { index: 1, state: "x" } } } };
  assert.equal(parseState(JSON.stringify(odd)).nodes.a1!.mark, null);
});
