// status's lease row from the lease rule (pure), and the lines the table prints for it.
import assert from "node:assert/strict";
import { renewedLease } from "../../../lib/ha/lease.ts";
import { leaseRow } from "../../../lib/status/lease.ts";
import { paintFor, renderTable } from "../../../lib/status/table.ts";
import type { StatusReport } from "../../../lib/status/view.ts";

const lease = renewedLease({
  consulService: "web",
  node: "n1",
  leaseSeconds: 10,
  source: "check",
  heartbeatAt: null,
  group: [],
}, { boot: 100, wallMs: Date.UTC(2026, 0, 1) });

Deno.test("leaseRow: valid, expired, absent", () => {
  assert.deepEqual(leaseRow({ kind: "valid", lease, remaining: 4 }), {
    state: "valid",
    expires: "2026-01-01T00:00:10.000Z",
    remaining: 4,
    source: "check",
    why: null,
  });
  assert.deepEqual(leaseRow({ kind: "expired", lease, why: "lease expired at X" }), {
    state: "expired",
    expires: "2026-01-01T00:00:10.000Z",
    remaining: null,
    source: "check",
    why: "lease expired at X",
  });
  assert.equal(leaseRow({ kind: "absent" }), null);
});

Deno.test("status table: the lease and the fence marker under the rows", () => {
  const report: StatusReport = {
    node: "n1",
    datacenter: "dc1",
    clusterKey: "cluster",
    services: [{
      service: "web",
      key: "cluster/web",
      mode: "nodes",
      lock: false,
      groups: [],
      pendingFlags: [],
      switching: null,
      thisNode: { role: "primary", state: "primary", reason: "listed active" },
      error: null,
      lease: leaseRow({ kind: "expired", lease, why: "lease expired at X" }),
      fenced: "fenced: lease expired at X (services stopped by the guard at Y)",
    }],
  };
  const text = renderTable(report, paintFor(false, undefined));
  assert.match(text, /^web: lease not valid: lease expired at X$/m);
  assert.match(text, /^web: fenced: lease expired at X \(services stopped by the guard at Y\)$/m);
  report.services[0]!.lease = leaseRow({ kind: "valid", lease, remaining: 3 });
  delete report.services[0]!.fenced;
  assert.match(
    renderTable(report, paintFor(false, undefined)),
    /^web: lease valid until 2026-01-01T00:00:10.000Z \(renewed by check\)$/m,
  );
});
