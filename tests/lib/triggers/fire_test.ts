// fire(): the order of its checks, defer / coalesce / limit, and the steps it applies —
// with a recording runner and an injected clock, no agent.
import assert from "node:assert/strict";
import { safeFileName } from "../../../lib/triggers/fire.ts";
import { DEFAULTS } from "../../../lib/config.ts";
import type { Config } from "../../../lib/config.ts";
import { fire, type FireDeps } from "../../../lib/triggers/fire.ts";
import { limitSettings, TriggerLimiter } from "../../../lib/triggers/limit.ts";
import type { HealthCheck } from "../../../lib/triggers/plan.ts";
import type { RoleFacts, TriggerSource } from "../../../lib/triggers/source.ts";
import { FakeClock, RecordingEffects, RecordingRunner } from "../../_support/fakes.ts";

Deno.test("safeFileName() keeps a service's log inside the trigger directory", () => {
  assert.equal(safeFileName("web"), "web");
  assert.equal(safeFileName("../../etc/x"), "_._.._etc_x");
  assert.equal(safeFileName(".hidden"), "_hidden");
  assert.equal(safeFileName(""), "_");
});

const check: HealthCheck = {
  Node: "n1",
  ServiceName: "web",
  CheckID: "web-check",
  Status: "critical",
  Output: "down",
  ServiceID: "web",
  Name: "web check",
};

/** A source answering from fields a test changes; `reads` lists what was asked, in order. */
class FakeSource implements TriggerSource {
  reads: string[] = [];
  status: string | null = "critical";
  kvData = new Map([["triggers/web/standalone/critical", "/usr/sbin/service web restart"]]);
  localNode() {
    this.reads.push("node");
    return Promise.resolve("n1");
  }
  datacenter() {
    return Promise.resolve("dc1");
  }
  role(): Promise<RoleFacts> {
    this.reads.push("role");
    return Promise.resolve({ role: "standalone", why: "no cluster document", detail: "d" });
  }
  kv(key: string) {
    this.reads.push(`kv ${key}`);
    return Promise.resolve(this.kvData.get(key) ?? null);
  }
  checkStatus() {
    this.reads.push("status");
    return Promise.resolve(this.status);
  }
}

interface World {
  clock: FakeClock;
  effects: RecordingEffects;
  source: FakeSource;
  logs: string[];
  out: string[];
  deps: FireDeps;
  dir: string;
}

async function world(over: Partial<Config> = {}): Promise<World> {
  const dir = await Deno.makeTempDir({ prefix: "pc-fire-" });
  const config: Config = {
    ...structuredClone(DEFAULTS) as Config,
    logDir: dir,
    triggerCooldown: 10,
    triggerBurst: 3,
    triggerWindow: 3600,
    ...over,
  };
  const clock = new FakeClock();
  const effects = new RecordingEffects(new RecordingRunner(), clock);
  const source = new FakeSource();
  const logs: string[] = [];
  const out: string[] = [];
  const log = (lvl: string) => (m: string) => logs.push(`${lvl} ${m}`);
  const deps: FireDeps = {
    config,
    source,
    effects,
    limiter: new TriggerLimiter(dir, limitSettings(config), { now: clock.now }),
    dryRun: false,
    log: () => ({ debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") }),
    out: (l) => out.push(l),
    format: "text",
    now: clock.now,
    dropRun: () => out.push("<run permission dropped>"),
  };
  return { clock, effects, source, logs, out, deps, dir };
}

const RUN = "run /usr/sbin/service web restart";

Deno.test("fire(): runs the action once, through the executor, and logs the step it took", async () => {
  const w = await world();
  const r = await fire(check, "critical", w.deps);
  assert.equal(r.outcome, "ran");
  assert.equal(r.code, 0);
  assert.deepEqual(w.effects.calls, [RUN]);
  assert.ok(
    w.logs.some((l) =>
      l.startsWith("info web/web-check: run triggers/web/standalone/critical (timeout 300s;") &&
      l.endsWith(": /usr/sbin/service web restart: ok")
    ),
    w.logs.join("\n"),
  );
  await Deno.remove(w.dir, { recursive: true });
});

Deno.test("fire(): inside the cooldown the run waits, re-reads the check, then runs", async () => {
  const w = await world();
  await fire(check, "critical", w.deps);
  w.clock.advance(4_000);
  w.source.reads = [];
  const r = await fire(check, "critical", w.deps);
  assert.equal(r.outcome, "ran");
  assert.deepEqual(w.effects.calls, [RUN, "sleep 6000", RUN]);
  // the check is read before the wait and again after it, then the plan is resolved again
  assert.deepEqual(w.source.reads.filter((x) => x === "status"), ["status", "status"]);
  assert.equal(w.source.reads.filter((x) => x === "role").length, 2);
  await Deno.remove(w.dir, { recursive: true });
});

Deno.test("fire(): a deferred run is dropped when the check recovered meanwhile", async () => {
  const w = await world();
  await fire(check, "critical", w.deps);
  w.clock.advance(1_000);
  const sleep = w.effects.sleep.bind(w.effects);
  w.effects.sleep = async (ms) => {
    await sleep(ms);
    w.source.status = "passing";
  };
  const r = await fire(check, "critical", w.deps);
  assert.equal(r.outcome, "dropped");
  assert.match(r.message, /deferred run not needed: web-check is now passing/);
  assert.deepEqual(w.effects.calls, [RUN, "sleep 9000"]);
  // its pending mark is gone: the next attempt after the cooldown runs at once
  w.source.status = "critical";
  w.clock.advance(10_000);
  assert.equal((await fire(check, "critical", w.deps)).outcome, "ran");
  await Deno.remove(w.dir, { recursive: true });
});

Deno.test("fire(): a deferred run whose asker is gone is dropped without acting", async () => {
  const w = await world();
  await fire(check, "critical", w.deps);
  let alive = true;
  w.deps.stillWanted = () => alive;
  const sleep = w.effects.sleep.bind(w.effects);
  w.effects.sleep = async (ms) => {
    await sleep(ms);
    alive = false;
  };
  const r = await fire(check, "critical", w.deps);
  assert.equal(r.outcome, "dropped");
  assert.equal(r.message, "deferred run dropped: the agent that asked for it is gone");
  assert.deepEqual(w.effects.calls, [RUN, "sleep 10000"]);
  await Deno.remove(w.dir, { recursive: true });
});

Deno.test("fire(): a second trigger while a deferred run is pending coalesces into it", async () => {
  const w = await world();
  await fire(check, "critical", w.deps);
  // another process (pid 1 is always alive) deferred its run and owns the pending mark
  const other = new TriggerLimiter(w.dir, w.deps.limiter.settings, { now: w.clock.now, pid: 1 });
  const key = { service: "web", role: "standalone", state: "critical" } as const;
  assert.equal((await other.attempt(key)).kind, "defer");
  const r = await fire(check, "critical", w.deps);
  assert.equal(r.outcome, "coalesced");
  assert.match(r.message, /already pending \(pid 1,/);
  assert.deepEqual(w.effects.calls, [RUN]);
  await Deno.remove(w.dir, { recursive: true });
});

Deno.test("fire(): past the burst limit it stops acting (exit 1) until the window slides", async () => {
  const w = await world({ triggerCooldown: 0, triggerBurst: 2, triggerWindow: 60 });
  assert.equal((await fire(check, "critical", w.deps)).outcome, "ran");
  w.clock.advance(1_000);
  assert.equal((await fire(check, "critical", w.deps)).outcome, "ran");
  w.clock.advance(1_000);
  const r = await fire(check, "critical", w.deps);
  assert.equal(r.outcome, "limited");
  assert.equal(r.code, 1);
  assert.match(r.message, /ran 2 times in 60s; not acting until /);
  assert.deepEqual(w.effects.calls, [RUN, RUN]);
  w.clock.advance(60_000);
  assert.equal((await fire(check, "critical", w.deps)).outcome, "ran");
  await Deno.remove(w.dir, { recursive: true });
});

Deno.test("fire(): another node's check is refused before the check or KV is read", async () => {
  const w = await world();
  await assert.rejects(
    fire({ ...check, Node: "n2" }, "critical", w.deps),
    /belongs to node n2, not to this node \(n1\)/,
  );
  assert.deepEqual(w.source.reads, ["node"]);
  assert.deepEqual(w.effects.calls, []);
  await Deno.remove(w.dir, { recursive: true });
});

Deno.test("fire(): a ServiceName that would leave the KV prefix is refused before any read", async () => {
  const w = await world();
  await assert.rejects(
    fire({ ...check, ServiceName: "../service/evil" }, "critical", w.deps),
    /ServiceName in the check JSON cannot contain "\/"/,
  );
  assert.deepEqual(w.source.reads, []);
  await Deno.remove(w.dir, { recursive: true });
});

Deno.test("fire() --dry-run: the executor prints the plan and the steps, drops run first, does nothing", async () => {
  const w = await world();
  w.deps.dryRun = true;
  await fire(check, "critical", w.deps);
  assert.deepEqual(w.effects.calls, []);
  assert.equal(w.out[0], "<run permission dropped>");
  assert.equal(
    w.out.at(-1),
    "dry-run: would run triggers/web/standalone/critical (timeout 300s; recorded in " +
      `${w.dir}/trigger/state.json, exit code and output logged to ${w.dir}/trigger/` +
      "web.critical.log): /usr/sbin/service web restart",
  );
  assert.ok(w.out.includes("dry-run: role: standalone — no cluster document"));
  assert.ok(!w.source.reads.includes("status"), "a dry run does not ask for the check");
  await Deno.remove(w.dir, { recursive: true });
});

Deno.test("fire(): while the service is paused the trigger is logged and nothing runs", async () => {
  const w = await world();
  w.source.kvData.set(
    "service/web/pause",
    JSON.stringify({ by: "n2", at: "2026-01-01T00:00:00.000Z", reason: "kernel upgrade" }),
  );
  const r = await fire(check, "critical", w.deps);
  assert.equal(r.outcome, "paused");
  assert.equal(r.code, 0);
  assert.deepEqual(w.effects.calls, [], "nothing run");
  assert.match(r.message, /^paused: kernel upgrade \(by n2 at 2026-01-01T00:00:00.000Z\)/);
  assert.ok(w.logs.some((l) => l.includes("logged, nothing run")), w.logs.join("\n"));
  w.source.kvData.set("service/web/pause", "garbage");
  const bad = await fire(check, "critical", w.deps);
  assert.equal(bad.outcome, "paused", "a malformed flag counts as paused");
  assert.deepEqual(w.effects.calls, []);
  w.source.kvData.delete("service/web/pause");
  assert.equal((await fire(check, "critical", w.deps)).outcome, "ran", "resumed: runs again");
  await Deno.remove(w.dir, { recursive: true });
});

Deno.test("fire() stateKnown: the caller's first-hand state stands over the agent's older word", async () => {
  const w = await world();
  w.source.status = "passing"; // the local check has not run since the takeover
  assert.equal((await fire(check, "critical", w.deps)).outcome, "dropped", "without it");
  assert.deepEqual(w.effects.calls, []);
  w.deps.stateKnown = true;
  const r = await fire(check, "critical", w.deps);
  assert.equal(r.outcome, "ran", r.message);
  assert.deepEqual(w.effects.calls, [RUN]);
  assert.ok(!w.source.reads.slice(-4).includes("status"), "the agent was not asked");
  await Deno.remove(w.dir, { recursive: true });
});

Deno.test("fire(): a primary marks its healing in KV before the action and the result after", async () => {
  for (const [code, after] of [[0, "healed"], [1, "failed"]] as const) {
    const w = await world();
    w.source.role = () =>
      Promise.resolve({ role: "primary", why: "listed active", detail: "d" } as RoleFacts);
    w.source.kvData.set("triggers/web/primary/critical", "/usr/sbin/service web start");
    (w.effects as { runner: unknown }).runner = new RecordingRunner(() => ({ code }));
    const r = await fire(check, "critical", w.deps);
    assert.equal(r.code, code);
    assert.deepEqual(w.effects.calls, [
      "kv service/web/n1/healing=healing cas=- dc=-",
      "run /usr/sbin/service web start",
      `kv service/web/n1/healing=${after} cas=- dc=-`,
    ]);
    await Deno.remove(w.dir, { recursive: true });
  }
});

Deno.test("fire(): a mark that cannot be written is one warning; the action still runs", async () => {
  const w = await world();
  w.source.role = () =>
    Promise.resolve({ role: "primary", why: "listed active", detail: "d" } as RoleFacts);
  w.source.kvData.set("triggers/web/primary/critical", "/usr/sbin/service web start");
  w.effects.kvPut = () => Promise.reject(new Error("connection refused"));
  const r = await fire(check, "critical", w.deps);
  assert.equal(r.outcome, "ran");
  assert.deepEqual(w.effects.calls, ["run /usr/sbin/service web start"]);
  assert.equal(w.logs.filter((l) => /heal mark .* not written/.test(l)).length, 2, w.logs.join());
  await Deno.remove(w.dir, { recursive: true });
});
