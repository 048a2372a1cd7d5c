// The guard's loop on a fake clock and fake files: an expired lease stops the services (in
// reverse order) and writes the marker once; a fresh lease clears it; a lease that was never
// there is not a lapse, one removed without a stop is; losing the pid file ends the guard.
import assert from "node:assert/strict";
import { decideTick, type GuardPorts, initialGuardState, runGuard } from "../../../lib/ha/guard.ts";
import type { FenceMarker } from "../../../lib/ha/lease.ts";
import { renewedLease } from "../../../lib/ha/lease.ts";
import { FakeClock } from "../../_support/fakes.ts";

class World implements GuardPorts {
  clock = new FakeClock(0);
  lease: string | null = null;
  owns = true;
  marker: FenceMarker | null = null;
  stops: string[] = [];
  lines: string[] = [];
  stopFails = false;
  /** Called before every look: the test's script of events, by boot second. */
  script: (boot: number, w: World) => void = () => {};
  looks = 0;
  maxLooks = 200;
  boot = () => Math.floor(this.clock.ms / 1000);
  now() {
    this.looks++;
    this.script(this.boot(), this);
    return Promise.resolve({ boot: this.boot(), wallMs: 1_000_000 + this.clock.ms });
  }
  readLease() {
    return Promise.resolve(this.lease);
  }
  ownsPidFile() {
    return Promise.resolve(this.owns && this.looks < this.maxLooks);
  }
  /** Whether the marker was on disk before each stop ran. */
  markedBeforeStop: boolean[] = [];
  stopService(name: string) {
    this.stops.push(`${this.boot()}:${name}`);
    this.markedBeforeStop.push(this.marker !== null);
    return Promise.resolve({ ok: !this.stopFails, detail: this.stopFails ? "exit 1" : "exit 0" });
  }
  writeMarker(m: FenceMarker) {
    this.marker = m;
    return Promise.resolve();
  }
  clearMarker() {
    this.marker = null;
    return Promise.resolve();
  }
  log(level: string, line: string) {
    this.lines.push(`${this.boot()} ${level} ${line}`);
  }
  sleep = (ms: number) => this.clock.sleep(ms);
  stopping = () => false;
  fenced?: (m: FenceMarker) => Promise<void>;
  leaseUntil(boot: number, expires: number) {
    this.lease = JSON.stringify(
      renewedLease({
        consulService: "web",
        node: "n1",
        leaseSeconds: expires - boot,
        source: "check",
        heartbeatAt: null,
        group: [],
      }, { boot, wallMs: 0 }),
    );
  }
}

const SET = { services: ["db", "app"], pollMs: 500 };

Deno.test("guard: an expired lease stops the services once and writes the marker; a fresh lease clears it", async () => {
  const w = new World();
  w.leaseUntil(0, 10);
  w.maxLooks = 60; // 30 s
  w.script = (boot, x) => {
    if (boot === 20 && x.marker) x.leaseUntil(20, 40);
  };
  await runGuard(w, SET);
  assert.deepEqual(w.stops, ["10:app", "10:db"]);
  assert.equal(w.marker, null, "the fresh lease cleared the marker");
  assert.deepEqual(w.lines, [
    "10 warn fenced: lease expired at 1970-01-01T00:00:10.000Z: stopped db, app",
    "20 info a fresh lease: fence cleared, guarding again",
    "29 info guard exits: its pid file no longer names it (stopped)",
  ]);
});

Deno.test("guard: the marker says when the lease ran out", async () => {
  const w = new World();
  w.leaseUntil(0, 3);
  w.maxLooks = 10;
  await runGuard(w, SET);
  assert.equal(w.marker?.reason, "lease expired at 1970-01-01T00:00:03.000Z");
  assert.equal(w.marker?.leaseExpiry, "1970-01-01T00:00:03.000Z");
  assert.equal(w.marker?.at, new Date(1_003_000).toISOString());
  // written before the services stop: whoever sees them stopped can read why
  assert.deepEqual(w.markedBeforeStop, [true, true]);
});

Deno.test("guard: no lease yet is not a lapse; a lease removed without a stop is", async () => {
  const w = new World();
  w.maxLooks = 40;
  w.script = (boot, x) => {
    if (boot === 5 && x.lease === null && x.stops.length === 0) x.leaseUntil(5, 100);
    if (boot === 12) x.lease = null;
  };
  await runGuard(w, SET);
  assert.deepEqual(w.stops, ["12:app", "12:db"]);
  assert.equal(w.marker?.reason, "the lease file was removed without a stop");
  assert.equal(w.marker?.leaseExpiry, null);
});

Deno.test("guard: a stop that fails is retried every few seconds, not every poll", async () => {
  const w = new World();
  w.leaseUntil(0, 1);
  w.stopFails = true;
  w.maxLooks = 24; // 12 s
  await runGuard(w, { services: ["db"], pollMs: 500 });
  assert.deepEqual(w.stops, ["1:db", "6:db", "11:db"]);
  assert.match(w.lines[0]!, /^1 error fenced: .*could not stop db: exit 1 \(retrying in 5s\)$/);
});

Deno.test("guard: it exits when its pid file goes, and on a signal", async () => {
  const w = new World();
  w.owns = false;
  await runGuard(w, SET);
  assert.deepEqual(w.lines, ["0 info guard exits: its pid file no longer names it (stopped)"]);
  const s = new World();
  s.stopping = () => true;
  await runGuard(s, SET);
  assert.deepEqual(s.lines, ["0 info guard exits: terminated by a signal"]);
});

Deno.test("guard rule: unreadable clock or lease is judged expired, never valid", async () => {
  const w = new World();
  w.leaseUntil(0, 100);
  w.maxLooks = 3;
  w.readLease = () => Promise.reject(new Error("EIO"));
  await runGuard(w, SET);
  assert.match(w.marker?.reason ?? "", /^the lease cannot be read \(EIO\)$/);
  const a = decideTick(initialGuardState(), true, { kind: "absent" }, { boot: 1, wallMs: 0 });
  assert.deepEqual(a, { op: "idle" });
});

Deno.test("guard: the role hook runs once per fence, after every service stopped; its failure never undoes the fence", async () => {
  const w = new World();
  const heard: string[] = [];
  w.fenced = (m: FenceMarker) => {
    heard.push(`${w.boot()} stops=${w.stops.length} ${m.reason}`);
    return Promise.reject(new Error("hook broke"));
  };
  w.leaseUntil(0, 3);
  w.maxLooks = 20; // 10 s: the lapse goes on, the hook is not run again
  await runGuard(w, SET);
  assert.deepEqual(heard, ["3 stops=2 lease expired at 1970-01-01T00:00:03.000Z"]);
  assert.deepEqual(w.stops, ["3:app", "3:db"], "fenced once: the failure undid nothing");
  assert.notEqual(w.marker, null);
  assert.equal(w.lines[1], "3 warn role hook: Error: hook broke");
  // a stop that fails is no fence (yet): no hook until the services are stopped
  const f = new World();
  const none: string[] = [];
  f.fenced = (m: FenceMarker) => Promise.resolve(void none.push(m.reason));
  f.stopFails = true;
  f.leaseUntil(0, 1);
  f.maxLooks = 14;
  f.script = (boot, x) => {
    if (boot === 6) x.stopFails = false;
  };
  await runGuard(f, { services: ["db"], pollMs: 500 });
  assert.deepEqual(f.stops, ["1:db", "6:db"]);
  assert.equal(none.length, 1, "once the retry stopped it");
});
