import assert from "node:assert/strict";
import { Executor } from "../../../lib/plan/apply.ts";
import type { Step } from "../../../lib/plan/step.ts";
import { RecordingEffects, RecordingRunner } from "../../_support/fakes.ts";

const steps: Step[] = [
  { kind: "kv-write", key: "clusters/web", value: '{"a":1}', cas: 7, why: "flip the document" },
  {
    kind: "tags",
    serviceId: "web1",
    tags: ["nodns"],
    registration: { ID: "web1", Service: "web", Tags: [] },
  },
  { kind: "run", argv: ["service", "web", "start"], timeoutMs: 1000, label: "start web" },
  { kind: "lock-file", op: "create", path: "/run/powerconsul/web.lock" },
  { kind: "flag", key: "service/web/n1/promote", value: "NULL", createOnly: true },
  { kind: "wait", ms: 2000, why: "for running checks" },
  { kind: "message", text: "switch done" },
];

Deno.test("dry run prints every step as 'would …', performs nothing and drops run first", async () => {
  const fx = new RecordingEffects();
  const lines: string[] = [];
  let dropped = 0;
  const ex = new Executor(fx, {
    dryRun: true,
    print: (l) => {
      assert.equal(dropped, 1, "the run permission is dropped before anything is printed");
      lines.push(l);
    },
    dropRun: () => dropped++,
  });
  await ex.applyAll(steps);
  assert.deepEqual(fx.calls, []);
  assert.equal(dropped, 1);
  assert.deepEqual(lines, [
    'would write clusters/web = {"a":1} (cas 7) to flip the document',
    'would set the tags of web1 to ["nodns"]',
    "would run start web: service web start",
    "would create lock file /run/powerconsul/web.lock",
    "would set service/web/n1/promote = NULL (if missing)",
    "would wait 2s for running checks",
    "switch done",
  ]);
});

Deno.test("a real run performs the steps in order and records the same sentences", async () => {
  const fx = new RecordingEffects(
    new RecordingRunner((argv) => argv[2] === "start" ? { code: 1 } : {}),
  );
  fx.casWins = false;
  const printed: string[] = [];
  const recorded: string[] = [];
  let dropped = 0;
  const ex = new Executor(fx, {
    dryRun: false,
    print: (l) => printed.push(l),
    record: (l) => recorded.push(l),
    dropRun: () => dropped++,
  });
  const out = await ex.applyAll(steps);
  assert.equal(dropped, 0);
  assert.deepEqual(fx.calls, [
    'kv clusters/web={"a":1} cas=7 dc=-',
    "tags web1=nodns",
    "run service web start",
    "lock-file create /run/powerconsul/web.lock",
    "kv service/web/n1/promote=NULL cas=0 dc=-",
    "sleep 2000",
  ]);
  assert.deepEqual(out.map((o) => o.ok), [false, true, false, true, false, true, true]);
  assert.equal(
    recorded[0],
    'write clusters/web = {"a":1} (cas 7) to flip the document: FAILED (lost the race)',
  );
  assert.equal(recorded[2], "run start web: service web start: FAILED (exit 1)");
  assert.deepEqual(printed, ["switch done"]);
  assert.equal(ex.journal.length, steps.length);
});

Deno.test("stopOnFailure ends the list at the first failed step", async () => {
  const fx = new RecordingEffects();
  fx.casWins = false;
  const ex = new Executor(fx, { dryRun: false, print: () => {} });
  const out = await ex.applyAll(steps, true);
  assert.equal(out.length, 1);
  assert.equal(fx.calls.length, 1);
});

Deno.test("an effect that throws is a failed step with its one line, not an exception", async () => {
  const fx = new RecordingEffects();
  fx.lockFile = () => Promise.reject(new Error("File exists (os error 17)\nmore"));
  const ex = new Executor(fx, { dryRun: false, print: () => {} });
  const o = await ex.apply({ kind: "lock-file", op: "create", path: "/x" });
  assert.equal(o.ok, false);
  assert.equal(o.detail, "File exists (os error 17)");
});

Deno.test("switch steps: described, printed in a dry run, performed through their effects", async () => {
  const lock = {
    kind: "switch-lock" as const,
    op: "take" as const,
    key: "service/web/.switch",
    holder: "start-primary",
  };
  const wait = {
    kind: "await-keys" as const,
    keys: [{ key: "service/web/a/demote", dc: "dc2" }, { key: "service/web/b/promote" }],
    value: "WAIT",
    failValue: "FAILED",
    timeoutMs: 30_000,
  };
  const doc = {
    kind: "cluster-doc" as const,
    key: "cluster/web",
    value: "{}",
    cas: 4,
    why: "switch roles",
  };
  const lines: string[] = [];
  const dry = new Executor(new RecordingEffects(), {
    dryRun: true,
    print: (l) => lines.push(l),
    dropRun: () => {},
  });
  await dry.applyAll([lock, wait, doc]);
  assert.deepEqual(lines, [
    "would take the switch lock service/web/.switch",
    "would wait up to 30s for service/web/a/demote in dc2, service/web/b/promote to be WAIT",
    "would write cluster/web = {} (cas 4) to switch roles",
  ]);

  // without the effects (a command that has no switch), the step fails with one line
  const bare = new Executor(new RecordingEffects(), { dryRun: false, print: () => {} });
  const o = await bare.apply(lock);
  assert.equal(o.ok, false);
  assert.equal(o.detail, "no effect for switch-lock steps here");

  const recorded: string[] = [];
  const fx = Object.assign(new RecordingEffects(), {
    switchLock: () => Promise.resolve(),
    awaitKeys: () => Promise.resolve({ silent: ["service/web/a/demote"], failed: [] }),
    clusterDoc: () => Promise.resolve({ won: false, notes: ["lost the race: changed"] }),
  });
  const ex = new Executor(fx, { dryRun: false, print: () => {}, record: (l) => recorded.push(l) });
  const [l, w, d] = await ex.applyAll([lock, wait, doc]);
  assert.equal(l!.ok, true);
  assert.deepEqual([w!.ok, w!.detail, w!.answers], [false, "no answer from service/web/a/demote", {
    silent: ["service/web/a/demote"],
    failed: [],
  }]);
  assert.deepEqual([d!.ok, d!.detail, d!.notes], [false, "lost the race: changed", [
    "lost the race: changed",
  ]]);
  assert.equal(recorded[0], "take the switch lock service/web/.switch: ok");
});
