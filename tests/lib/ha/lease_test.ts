// The lease rule (pure): valid before the expiry on the boot clock, expired at and after it, and
// anything that is not this boot's lease counts as expired.
import assert from "node:assert/strict";
import {
  fenceSentence,
  judgeLease,
  leaseId,
  leasePath,
  parseFence,
  renewedLease,
  wallOf,
} from "../../../lib/ha/lease.ts";

const now = (boot: number) => ({ boot, wallMs: Date.UTC(2026, 11, 1, 12, 0, 0) });
const renew = (boot: number, leaseSeconds = 10) =>
  renewedLease({
    consulService: "web",
    node: "n1",
    leaseSeconds,
    source: "check",
    heartbeatAt: null,
    group: ["n2"],
  }, now(boot));

Deno.test("lease: valid until the expiry, expired at it; the expiry is rounded down", () => {
  const l = renew(100);
  assert.equal(l.expires, 110);
  assert.equal(l.renewed, 100);
  assert.equal(l.expiresWall, "2026-12-01T12:00:10.000Z");
  const text = JSON.stringify(l);
  assert.deepEqual(judgeLease(text, now(109)), { kind: "valid", lease: l, remaining: 1 });
  const at = judgeLease(text, now(110));
  assert.equal(at.kind, "expired");
  assert.equal(at.kind === "expired" && at.why, "lease expired at 2026-12-01T12:00:10.000Z");
  // a fractional leaseSeconds never lengthens the lease
  assert.equal(renew(100, 2.5).expires, 102);
});

Deno.test("lease: absent, garbled, and earlier-boot leases", () => {
  assert.deepEqual(judgeLease(null, now(5)), { kind: "absent" });
  for (const bad of ["", "{", "[]", '{"by":"other"}', '{"by":"powerconsul","expires":"x"}']) {
    const j = judgeLease(bad, now(5));
    assert.equal(j.kind, "expired", bad);
  }
  // renewed at uptime 5000 but the clock now says 30: a lease from before a reboot
  const j = judgeLease(JSON.stringify(renew(5000)), now(30));
  assert.equal(j.kind === "expired" && j.why, "the lease was written before this boot");
});

Deno.test("lease: names are one segment; the paths live under /run/powerconsul", () => {
  assert.equal(leaseId("web", "n1"), "web@n1");
  assert.equal(leasePath("web@n1"), "/run/powerconsul/lease/web@n1");
  assert.throws(() => leaseId("web", "../x"), /node name/);
  assert.throws(() => leaseId("", "n1"), /Consul service/);
  assert.equal(wallOf(95, now(100)), "2026-12-01T11:59:55.000Z");
});

Deno.test("fence marker: parsed, and said as 'fenced: …'", () => {
  const m = parseFence(
    JSON.stringify({ at: "T1", reason: "lease expired at T0", leaseExpiry: "T0" }),
  );
  assert.deepEqual(m, { at: "T1", reason: "lease expired at T0", leaseExpiry: "T0" });
  assert.equal(
    fenceSentence(m!),
    "fenced: lease expired at T0 (services stopped by the guard at T1)",
  );
  assert.equal(parseFence("nope"), null);
});
