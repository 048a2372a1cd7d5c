import assert from "node:assert/strict";
import { Executor } from "../../../lib/plan/apply.ts";
import { type HandlerPorts, handleSwitchKey } from "../../../lib/service/handler.ts";
import { parseServiceArgv } from "../../../cmd/service.ts";
import type { NoopInspection } from "../../../lib/sys/lockfile.ts";
import { FakeKv } from "../../_support/fake_kv.ts";
import { RecordingEffects, RecordingRunner } from "../../_support/fakes.ts";

const LOCK = "/run/powerconsul/web.lock";
const args = parseServiceArgv(["web", "demote", "-S", "web", "-s", "nginx,php", "-F", LOCK]).args;
const KEY = (kind: string) => `service/web/n1/${kind}`;
const watch = (key: string, value: string) => JSON.stringify({ Key: key, Value: btoa(value) });
const absent: NoopInspection = { state: "absent", note: "", record: null };
const held = (action: string): NoopInspection => ({
  state: "honoured",
  note: "",
  record: {
    by: "powerconsul",
    action,
    name: "web",
    consulService: "web",
    holder: null,
    at: "t",
  },
});

function harness(opts: {
  stdin: string | null;
  lock?: NoopInspection;
  running?: boolean;
  active?: boolean | "unknown";
  fail?: (argv: string[]) => boolean;
  dryRun?: boolean;
}) {
  const kv = new FakeKv();
  const lines: string[] = [];
  let dropped = 0;
  const runner = new RecordingRunner((argv) => opts.fail?.(argv) ? { code: 1 } : {});
  const fx = new RecordingEffects(runner);
  fx.kvPut = (key, value, o) => {
    fx.calls.push(`kv ${key}=${value} cas=${o.cas ?? "-"}`);
    return Promise.resolve(kv.put(key, value, o));
  };
  const ports: HandlerPorts = {
    node: () => Promise.resolve("n1"),
    readStdin: () => Promise.resolve(opts.stdin),
    kvGet: (key) => Promise.resolve(kv.get(key)),
    inspectLock: () => Promise.resolve(opts.lock ?? absent),
    readStates: (services) =>
      Promise.resolve(
        services.map((name) => ({ name, running: opts.running ?? true, detail: "" })),
      ),
    role: () =>
      opts.active === "unknown"
        ? Promise.reject(new Error("no leader"))
        : Promise.resolve({ active: opts.active ?? false, reason: "because" }),
    describeError: (e) => (e as Error).message,
  };
  const ex = new Executor(fx, {
    dryRun: opts.dryRun ?? false,
    print: (l) => lines.push(l),
    dropRun: () => dropped++,
  });
  const run = (kind: "promote" | "demote") =>
    handleSwitchKey(
      ports,
      ex,
      { servicePrefix: "service", manager: "service", actionTimeoutMs: 1000 },
      args,
      kind,
      (l) => lines.push(l),
    );
  return { kv, fx, lines, run, dropped: () => dropped };
}

Deno.test("demote START: lock file, stop in reverse order, answer WAIT with a checked write", async () => {
  const h = harness({ stdin: watch(KEY("demote"), "START") });
  h.kv.put(KEY("demote"), "START");
  const idx = h.kv.get(KEY("demote"))!.modifyIndex;
  assert.equal(await h.run("demote"), 0);
  assert.deepEqual(h.fx.calls, [
    `lock-file create ${LOCK}`,
    "run service php stop",
    "run service nginx stop",
    `kv ${KEY("demote")}=WAIT cas=${idx}`,
  ]);
  assert.deepEqual(h.lines, [
    `lock file ${LOCK}: ok`,
    "php: stopping… ok",
    "nginx: stopping… ok",
    `${KEY("demote")} = WAIT: ok`,
  ]);
  assert.equal(h.kv.get(KEY("demote"))!.value, "WAIT");
});

Deno.test("demote START whose stop fails answers FAILED (exit 1); a promote never stops", async () => {
  const h = harness({ stdin: watch(KEY("demote"), "START"), fail: (a) => a[1] === "php" });
  h.kv.put(KEY("demote"), "START");
  assert.equal(await h.run("demote"), 1);
  assert.equal(h.kv.get(KEY("demote"))!.value, "FAILED");
  assert.ok(h.lines.some((l) => /^php: stopping… FAILED \(/.test(l)), h.lines.join("\n"));
  assert.ok(h.lines.includes("nginx: stopping… ok"), "stops go on after a failure");

  const p = harness({ stdin: watch(KEY("promote"), "START") });
  p.kv.put(KEY("promote"), "START");
  assert.equal(await p.run("promote"), 0);
  assert.ok(!p.fx.calls.some((c) => c.startsWith("run ")), p.fx.calls.join("\n"));
  assert.equal(p.kv.get(KEY("promote"))!.value, "WAIT");
});

Deno.test("START when the key changed meanwhile (an --abort): lock taken, no answer written", async () => {
  const h = harness({ stdin: watch(KEY("promote"), "START") });
  h.kv.put(KEY("promote"), "NULL");
  assert.equal(await h.run("promote"), 0);
  assert.deepEqual(h.fx.calls, [`lock-file create ${LOCK}`]);
  assert.equal(h.lines.at(-1), "promote: key changed to NULL meanwhile: not answering");
});

Deno.test("a repeated START keeps this switch's lock file; a foreign lock file answers FAILED", async () => {
  const again = harness({ stdin: watch(KEY("promote"), "START"), lock: held("promote") });
  again.kv.put(KEY("promote"), "START");
  assert.equal(await again.run("promote"), 0);
  assert.ok(!again.fx.calls.some((c) => c.startsWith("lock-file")), again.fx.calls.join("\n"));

  const h = harness({ stdin: watch(KEY("promote"), "START") });
  h.fx.lockFile = () => Promise.reject(new Error("noop file x ignored: it is a symlink"));
  h.kv.put(KEY("promote"), "START");
  assert.equal(await h.run("promote"), 1);
  assert.equal(h.lines[0], `lock file ${LOCK}: FAILED (noop file x ignored: it is a symlink)`);
  assert.equal(h.kv.get(KEY("promote"))!.value, "FAILED");
});

Deno.test("NULL with this node's lock file: an active node starts its services, the lock file goes", async () => {
  const h = harness({
    stdin: watch(KEY("promote"), "NULL"),
    lock: held("promote"),
    running: false,
    active: true,
  });
  assert.equal(await h.run("promote"), 0);
  assert.deepEqual(h.fx.calls, [
    "run service nginx start",
    "run service php start",
    `lock-file remove ${LOCK}`,
  ]);
  assert.equal(h.lines[0], "promote: this node is active (because): starting services");

  const standby = harness({ stdin: watch(KEY("demote"), "NULL"), lock: held("demote") });
  assert.equal(await standby.run("demote"), 0);
  assert.deepEqual(standby.fx.calls, [`lock-file remove ${LOCK}`]);
  assert.equal(standby.lines[0], "demote: this node is a standby (because): services stay stopped");
});

Deno.test("NULL with an unknown cluster state keeps the lock file and exits 3", async () => {
  const h = harness({
    stdin: watch(KEY("demote"), "NULL"),
    lock: held("demote"),
    active: "unknown",
  });
  assert.equal(await h.run("demote"), 3);
  assert.deepEqual(h.fx.calls, []);
  assert.equal(h.lines[0], "demote: FAILED (cluster state unknown: no leader); lock file kept");
});

Deno.test("nothing to do: NULL without a lock file (a new watch), WAIT, another kind's lock", async () => {
  for (
    const [kind, value, lock] of [
      ["promote", "NULL", absent],
      ["promote", "WAIT", absent],
      ["demote", "NULL", held("promote")],
    ] as const
  ) {
    const h = harness({ stdin: watch(KEY(kind), value), lock });
    assert.equal(await h.run(kind), 0);
    assert.deepEqual(h.fx.calls, []);
    assert.match(h.lines[0]!, new RegExp(`^${kind}: nothing to do \\(`));
  }
});

Deno.test("a watch on another node's key is refused before anything is done", async () => {
  const h = harness({ stdin: watch("service/web/n2/promote", "START") });
  assert.equal(await h.run("promote"), 1);
  assert.deepEqual(h.fx.calls, []);
  assert.match(h.lines[0]!, /^promote: FAILED \(the watch is on service\/web\/n2\/promote, but/);
});

Deno.test("dry run: the executor prints the plan, performs nothing, drops run first", async () => {
  const h = harness({ stdin: watch(KEY("demote"), "START"), dryRun: true });
  h.kv.put(KEY("demote"), "START");
  const idx = h.kv.get(KEY("demote"))!.modifyIndex;
  assert.equal(await h.run("demote"), 0);
  assert.deepEqual(h.fx.calls, []);
  assert.equal(h.dropped(), 1);
  assert.deepEqual(h.lines, [
    `would create lock file ${LOCK}`,
    "would run stop php: service php stop",
    "would run stop nginx: service nginx stop",
    `would write ${KEY("demote")} = WAIT (cas ${idx}) to answer the switch`,
  ]);
});
