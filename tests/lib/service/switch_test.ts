// The initiator's protocol (start-primary, --abort) against a fake KV, fake nodes and an
// injected clock: milliseconds, no agent.
import assert from "node:assert/strict";
import { parseClusterDoc } from "../../../lib/cluster/doc.ts";
import type { ClusterView } from "../../../lib/cluster/view.ts";
import { decide, place } from "../../../lib/cluster/role.ts";
import { type Effects, Executor } from "../../../lib/plan/apply.ts";
import { describeStep as describe } from "../../../lib/plan/step.ts";
import { parseServiceArgv } from "../../../cmd/service.ts";
import {
  type InitiatorPorts,
  startPrimary,
  startPrimaryAbort,
} from "../../../lib/service/switch.ts";
import { switchEffects } from "../../../lib/service/switch_effects.ts";
import { appendEntry, type HistoryRecord, parseHistory } from "../../../lib/history/entry.ts";
import { answerLine } from "../../../lib/service/switch_plan.ts";
import { FakeKv } from "../../_support/fake_kv.ts";
import { FakeClock, RecordingEffects } from "../../_support/fakes.ts";

const DOC_KEY = "cluster/web";
const args = parseServiceArgv(["web", "start-primary", "-S", "web"]).args;
const SET = { servicePrefix: "service", switchTimeout: 30 };

/**
 * A cluster of fake nodes: each node in `answers` answers START on its own role key the way its
 * key watch would (WAIT, FAILED), a node missing from it stays silent.
 */
function world(opts: {
  doc?: unknown;
  node?: string;
  answers?: Record<string, "WAIT" | "FAILED">;
  dryRun?: boolean;
  heldBy?: string;
  /** The agent refuses to create a session (an ACL without session write). */
  sessionError?: Error;
}) {
  const clock = new FakeClock();
  const kv = new FakeKv("dc1");
  const doc = opts.doc ?? { active_nodes: ["a"], standby_nodes: ["b"] };
  kv.put(DOC_KEY, JSON.stringify(doc));
  const answers = opts.answers ?? { a: "WAIT", b: "WAIT" };
  kv.onWrite = (key, value, dc) => {
    const m = /^service\/web\/([^/]+)\/(promote|demote)$/.exec(key);
    const answer = m ? answers[m[1]!] : undefined;
    if (value === "START" && answer) queueMicrotask(() => kv.put(key, answer, { dc }));
  };
  const sessions = new Map<string, string>();
  if (opts.heldBy) {
    sessions.set("service/web/.switch", "other");
    kv.put("service/web/.switch", opts.heldBy);
  }
  const lines: string[] = [];
  const say = (l: string) => lines.push(l);
  const node = opts.node ?? "b";
  const view = (): ClusterView => {
    const entry = kv.get(DOC_KEY)!;
    const d = parseClusterDoc(entry.value!);
    const placement = place({ doc: d, node, datacenter: "dc1" });
    return {
      key: DOC_KEY,
      entry: { ...entry, createIndex: 1, lockIndex: 0, flags: 0, session: null },
      doc: d,
      node,
      placement,
      actives: [],
      decision: decide(placement, []),
    };
  };
  let read: ClusterView | null = null;
  const ports: InitiatorPorts = {
    view: () => Promise.resolve(read = view()),
    node: () => Promise.resolve(node),
    here: () => Promise.resolve("dc1"),
    datacenters: () => Promise.resolve(["dc1"]),
    instances: () => Promise.resolve([]),
    kvGet: (key, dc) => Promise.resolve(kv.get(key, dc)),
    kvList: (prefix, dc) => Promise.resolve(kv.list(prefix, dc)),
    now: clock.now,
    describeError: (e) => (e as Error).message,
  };
  const fx: RecordingEffects & Effects = new RecordingEffects(undefined, clock);
  fx.kvPut = (key, value, o) => {
    fx.calls.push(`kv ${key}=${value}${o.cas === undefined ? "" : ` cas=${o.cas}`}`);
    return Promise.resolve(kv.put(key, value, o));
  };
  let released = 0;
  const sw = switchEffects({
    kv: {
      sessionCreate: () =>
        opts.sessionError ? Promise.reject(opts.sessionError) : Promise.resolve("mine"),
      sessionRenew: () => Promise.resolve(true),
      sessionDestroy: () => {
        released++;
        return Promise.resolve(true);
      },
      kvPut: (key, value, o) => {
        if (o.acquire) {
          if (sessions.has(key)) return Promise.resolve(false);
          sessions.set(key, o.acquire);
        }
        return Promise.resolve(kv.put(key, value, o));
      },
      kvGet: (key) => {
        const e = kv.get(key);
        return Promise.resolve(e && { ...e, session: sessions.get(key) ?? null });
      },
      kvDelete: (key) => {
        sessions.delete(key);
        kv.delete(key);
        return Promise.resolve(true);
      },
      kvList: (prefix, o) => {
        // a blocking read with nothing new returns after its wait, like Consul's
        if (o.index !== undefined && kv.index <= o.index && o.wait) {
          clock.advance(parseInt(o.wait) * 1000);
        }
        return Promise.resolve({ entries: kv.list(prefix, o.dc), index: kv.index });
      },
    },
    node,
    now: clock.now,
    onAnswer: (key, value, ms) => say(answerLine("service/web/", "web", key, value, ms).line),
    clusterDoc: (step) => {
      const won = kv.put(step.key, step.value, { cas: step.cas });
      assert.ok(read !== null);
      return Promise.resolve({
        won,
        notes: [won ? `wrote ${step.key} (cas ${step.cas})` : `lost the race: ${step.key} changed`],
      });
    },
  });
  Object.assign(fx, sw);
  // A history entry lands in the fake KV like the live transaction would write it.
  Object.assign(fx, {
    recorded: (_change: unknown, record: HistoryRecord) => {
      const cur = kv.get(record.key);
      kv.put(record.key, appendEntry(cur?.value ?? null, record.entry).text);
      return Promise.resolve({ won: true, note: "" });
    },
  });
  const ex = new Executor(fx, {
    dryRun: opts.dryRun ?? false,
    print: say,
    dropRun: () => {},
  });
  return { kv, clock, lines, ports, ex, fx, released: () => released };
}

const roleKeys = (kv: FakeKv) =>
  Object.fromEntries(kv.list("service/web/").map((e) => [e.key, e.value]));

Deno.test("start-primary: happy path writes, waits, swaps the document and resets every key", async () => {
  const w = world({});
  const index = w.kv.get(DOC_KEY)!.modifyIndex;
  assert.equal(await startPrimary(w.ports, w.ex, SET, args, (l) => w.lines.push(l)), 0);
  assert.deepEqual(w.lines, [
    `cluster document cluster/web: ok (index ${index}; active a; standby b)`,
    "switch lock service/web/.switch: ok",
    "flags under service/web/: ok (4 created as NULL)",
    "a demote=START: ok",
    "b promote=START: ok",
    "a demote: WAIT ok (0.0s)",
    "b promote: WAIT ok (0.0s)",
    "cluster document cluster/web: ok (active b; standby a; locked)",
    "flags reset to NULL: ok (2 changed)",
    "start-primary: ok in 0.0s (b active; the lock clears when the new active's check passes)",
  ]);
  assert.deepEqual(JSON.parse(w.kv.get(DOC_KEY)!.value!), {
    active_nodes: ["b"],
    standby_nodes: ["a"],
    lock: true,
  });
  assert.deepEqual(roleKeys(w.kv), {
    "service/web/a/demote": "NULL",
    "service/web/a/promote": "NULL",
    "service/web/b/demote": "NULL",
    "service/web/b/promote": "NULL",
  });
  assert.equal(w.released(), 1, "the switch lock is released");

  // the dry run prints exactly the steps the real run took
  const d = world({ dryRun: true });
  assert.equal(await startPrimary(d.ports, d.ex, SET, args, (l) => d.lines.push(l)), 0);
  assert.deepEqual(d.fx.calls, [], "a dry run performs nothing");
  assert.deepEqual(
    d.lines.slice(1),
    w.ex.journal.map((o) => `would ${describe(o.step)}`),
  );
  assert.equal(d.lines.filter((l) => l.startsWith("would ")).length, 12);
});

Deno.test("start-primary: a silent node fails after switchTimeout, naming it; nothing switched", async () => {
  const w = world({ answers: { b: "WAIT" } });
  const before = w.kv.get(DOC_KEY)!.value;
  const t0 = w.clock.now();
  assert.equal(await startPrimary(w.ports, w.ex, SET, args, (l) => w.lines.push(l)), 1);
  assert.ok(w.clock.now() - t0 >= 30_000, "waited the whole timeout on the clock");
  assert.ok(w.lines.includes("waiting for WAIT: FAILED (no answer after 30s from a (demote))"));
  assert.match(
    w.lines.at(-1)!,
    /^start-primary: FAILED \(a did not answer\); cluster document unchanged, flags left as they are\. Run 'service web start-primary --abort'/,
  );
  assert.equal(w.kv.get(DOC_KEY)!.value, before);
  assert.equal(roleKeys(w.kv)["service/web/a/demote"], "START");
  assert.equal(roleKeys(w.kv)["service/web/b/promote"], "WAIT");
  assert.equal(w.released(), 1);
});

Deno.test("start-primary: a node answering FAILED stops the switch at once", async () => {
  const w = world({ answers: { a: "FAILED", b: "WAIT" } });
  const t0 = w.clock.now();
  assert.equal(await startPrimary(w.ports, w.ex, SET, args, (l) => w.lines.push(l)), 1);
  assert.ok(w.clock.now() - t0 < 30_000, "no waiting for the timeout");
  assert.ok(
    w.lines.includes(
      "a demote: FAILED (the node reported it could not demote; see its service/web.log)",
    ),
  );
  assert.match(
    w.lines.at(-1)!,
    /^start-primary: FAILED \(a demote failed\); cluster document unchanged/,
  );
});

Deno.test("start-primary: the switch lock held by another operator refuses, naming the holder", async () => {
  const w = world({
    heldBy: JSON.stringify({ node: "n9", pid: 7, action: "start-primary", at: "t" }),
  });
  assert.equal(await startPrimary(w.ports, w.ex, SET, args, (l) => w.lines.push(l)), 1);
  assert.equal(
    w.lines.at(-1),
    "switch lock service/web/.switch: FAILED (another switch holds service/web/.switch: " +
      "start-primary on n9 (pid 7, since t); wait for it to finish (or time out))",
  );
  assert.deepEqual(Object.keys(roleKeys(w.kv)), ["service/web/.switch"], "no role key written");
});

Deno.test("start-primary: the document changed meanwhile: every key back to NULL, exit 1", async () => {
  const w = world({});
  const real = w.fx.clusterDoc!;
  w.fx.clusterDoc = (step) => {
    w.kv.put(DOC_KEY, JSON.stringify({ active_nodes: ["a"], standby_nodes: ["b", "c"] }));
    return real.call(w.fx, step);
  };
  assert.equal(await startPrimary(w.ports, w.ex, SET, args, (l) => w.lines.push(l)), 1);
  assert.ok(w.lines.includes("a demote WAIT → NULL: ok"));
  assert.match(
    w.lines.at(-1)!,
    /^start-primary: FAILED \(the document changed while switching; flags reset ok\)/,
  );
  assert.ok(Object.entries(roleKeys(w.kv)).every(([, v]) => v === "NULL"));
});

Deno.test("start-primary refusals: on an active node, on a locked document", async () => {
  const cases: [Parameters<typeof world>[0], string][] = [
    [{ node: "a" }, "start-primary: refused: a is already active"],
    [
      { doc: { active_nodes: ["a"], standby_nodes: ["b"], lock: true } },
      "start-primary: refused: the cluster document is locked",
    ],
  ];
  for (const [o, start] of cases) {
    const w = world(o);
    assert.equal(await startPrimary(w.ports, w.ex, SET, args, (l) => w.lines.push(l)), 1);
    assert.ok(w.lines.at(-1)!.startsWith(start), w.lines.join("\n"));
    assert.deepEqual(w.fx.calls, []);
  }
});

Deno.test("start-primary --abort: every key that is not NULL back to NULL, one line each", async () => {
  const w = world({ answers: {} });
  w.kv.put("service/web/a/demote", "START");
  w.kv.put("service/web/b/promote", "WAIT");
  w.kv.put("service/web/b/demote", "NULL");
  assert.equal(await startPrimaryAbort(w.ports, w.ex, SET, args, (l) => w.lines.push(l)), 0);
  assert.deepEqual(w.lines, [
    "switch lock service/web/.switch: ok",
    "a demote START → NULL: ok",
    "b promote WAIT → NULL: ok",
    "history: ok",
    "start-primary --abort: ok (cluster document unchanged; nodes that took part drop their " +
    "lock files and return to their roles)",
  ]);
  assert.ok(
    Object.entries(roleKeys(w.kv)).every(([k, v]) => k === "service/web/history" || v === "NULL"),
  );
  const abortEntries = parseHistory(w.kv.get("service/web/history")!.value);
  assert.deepEqual(abortEntries.map((e) => [e.action, e.before, e.after]), [["abort", null, null]]);

  const d = world({ dryRun: true, answers: {} });
  d.kv.put("service/web/a/demote", "START");
  assert.equal(await startPrimaryAbort(d.ports, d.ex, SET, args, (l) => d.lines.push(l)), 0);
  assert.deepEqual(d.lines, [
    "would take the switch lock service/web/.switch",
    "would set service/web/a/demote = NULL",
    "would record abort in service/web/history: start-primary --abort: every promote/demote " +
    "flag reset to NULL",
    "would release the switch lock service/web/.switch",
  ]);
  assert.equal(d.kv.get("service/web/a/demote")!.value, "START");
  const none = world({ dryRun: true });
  assert.equal(
    await startPrimaryAbort(none.ports, none.ex, SET, args, (l) => none.lines.push(l)),
    0,
  );
  assert.deepEqual(none.lines, ["nothing to abort: every role key is NULL"]);
});

Deno.test("start-primary: a Consul error taking the switch lock is unknown state: it escapes (exit 3)", async () => {
  for (const run of [startPrimary, startPrimaryAbort]) {
    const w = world({ sessionError: new Error("permission denied by Consul ACLs") });
    await assert.rejects(
      () => run(w.ports, w.ex, SET, args, (l) => w.lines.push(l)),
      /permission denied by Consul ACLs/,
    );
    assert.ok(!w.lines.some((l) => l.startsWith("switch lock")), w.lines.join("\n"));
    assert.deepEqual(Object.keys(roleKeys(w.kv)), [], "no role key written");
  }
});
