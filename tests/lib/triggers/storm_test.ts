// Restart-storm policy: verdicts, records, the state file's shape.
import assert from "node:assert/strict";
import {
  type KeyState,
  type LimitSettings,
  parseState,
  record,
  type StateFile,
  stormVerdict,
} from "../../../lib/triggers/storm.ts";

const S: LimitSettings = { cooldownMs: 10_000, burst: 3, windowMs: 3_600_000 };
const key = { service: "web", role: "primary", state: "critical" } as const;
const entry = (runs: number[], pending?: { until: number; pid: number }): KeyState => ({
  ...key,
  runs,
  ...(pending ? { pending } : {}),
});

Deno.test("stormVerdict() applies cooldown, burst and pending marks", async (t) => {
  const now = 10_000_000;
  const alive = () => true;
  const dead = () => false;
  const cases: Record<string, [KeyState | undefined, object, string, object?]> = {
    "first run": [undefined, {}, "run"],
    "past the cooldown": [entry([now - 10_000]), {}, "run"],
    "inside the cooldown: deferred to last + cooldown": [entry([now - 4_000]), {}, "defer", {
      until: now + 6_000,
      lastRun: now - 4_000,
    }],
    "burst reached: limited until the oldest run leaves the window": [
      entry([now - 3_000_000, now - 2_000_000, now - 1_000_000]),
      {},
      "limited",
      { runs: 3, clearsAt: now - 3_000_000 + 3_600_000 },
    ],
    "runs outside the window do not count": [
      entry([now - 3_700_000, now - 2_000_000, now - 1_000_000]),
      {},
      "run",
    ],
    "a live pending mark coalesces": [
      entry([now - 4_000], { until: now + 6_000, pid: 42 }),
      { alive },
      "coalesced",
      { until: now + 6_000, pid: 42 },
    ],
    "a dead owner's pending mark is ignored": [
      entry([now - 4_000], { until: now + 6_000, pid: 42 }),
      { alive: dead },
      "defer",
    ],
    "an overdue pending mark is ignored": [
      entry([now - 60_000], { until: now - 50_000, pid: 42 }),
      { alive },
      "run",
    ],
    "the owner is not coalesced into its own mark": [
      entry([now - 10_000], { until: now, pid: 42 }),
      { alive, owner: true },
      "run",
    ],
    "limited beats pending": [
      entry([now - 3, now - 2, now - 1], { until: now + 6_000, pid: 42 }),
      { alive },
      "limited",
    ],
    "a run in the future (clock went back) counts as now": [
      entry([now + 500_000]),
      {},
      "defer",
      { until: now + 10_000 },
    ],
  };
  for (const [name, [e, opts, kind, extra]] of Object.entries(cases)) {
    await t.step(name, () => {
      const v = stormVerdict(e, now, S, opts);
      assert.equal(v.kind, kind);
      for (const [k, val] of Object.entries(extra ?? {})) {
        assert.equal((v as Record<string, unknown>)[k], val, k);
      }
    });
  }
});

Deno.test("record() adds runs, sets and clears pending marks, forgets old runs", () => {
  const now = 10_000_000;
  let st: StateFile = { version: 1, entries: [] };
  st = record(st, key, { kind: "run" }, now, S, 1, false);
  assert.deepEqual(st.entries[0]!.runs, [now]);
  st = record(st, key, { kind: "defer", until: now + 10_000, lastRun: now }, now + 1, S, 2, false);
  assert.deepEqual(st.entries[0]!.pending, { until: now + 10_000, pid: 2 });
  st = record(st, key, { kind: "run" }, now + 10_000, S, 2, true);
  assert.deepEqual(st.entries[0]!.runs, [now, now + 10_000]);
  assert.equal(st.entries[0]!.pending, undefined);
  // an owner that finds it should not run after all only clears its mark
  st = record(
    st,
    key,
    { kind: "defer", until: now + 20_000, lastRun: now },
    now + 11_000,
    S,
    3,
    false,
  );
  st = record(st, key, { kind: "defer", until: 0, lastRun: 0 }, now + 20_000, S, 3, true);
  assert.equal(st.entries[0]!.pending, undefined);
  // past the window everything is forgotten
  st = record(st, { ...key, service: "db" }, { kind: "run" }, now + 4_000_000, S, 1, false);
  assert.deepEqual(st.entries.map((e) => e.service), ["db"]);
});

Deno.test("parseState() rejects anything that is not a version 1 state", async (t) => {
  assert.deepEqual(parseState('{"version":1,"entries":[]}'), { version: 1, entries: [] });
  for (
    const bad of [
      "",
      "{",
      "[]",
      '{"version":2,"entries":[]}',
      '{"version":1,"entries":[1]}',
      '{"version":1,"entries":[{"service":"a","role":"primary","state":"critical","runs":["x"]}]}',
      '{"version":1,"entries":[{"service":"a","role":"p","state":"c","runs":[],"pending":{}}]}',
    ]
  ) {
    await t.step(JSON.stringify(bad), () => assert.throws(() => parseState(bad)));
  }
});
