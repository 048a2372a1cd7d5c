/**
 * The wrapper's part in the lease (pure steps): `start` and `promote` on an active node have
 * just confirmed the role through the servers, so they write a fresh lease and start the guard
 * before the services; `stop` and `demote` stop the guard and remove the lease before the
 * services stop. Other roles get no guard: a standby acting as primary without a flip is not
 * listed active, nothing would renew its lease.
 */
import type { ClusterView } from "../cluster/view.ts";
import { leaseId, leasePath, type Now, renewedLease } from "../ha/lease.ts";
import { groupPeers, leaseStep } from "../ha/renew.ts";
import type { GuardStep, LeaseStep } from "../plan/step.ts";

export interface GuardInputs {
  consulService: string;
  services: string[];
  leaseSeconds: number;
  /** The config file the guard must read (the wrapper's own), null for defaults. */
  configPath: string | null;
}

/** Whether this view wants a guarded active (listed active; all-active needs no lease). */
export function wantsGuard(view: ClusterView): boolean {
  return view.placement.kind === "active" && view.node !== "";
}

/** Lease, then guard: the guard never starts on a missing or stale lease. */
export function guardUpSteps(
  view: ClusterView,
  g: GuardInputs,
  start: Now,
  source: string,
): (LeaseStep | GuardStep)[] {
  if (!wantsGuard(view)) return [];
  const id = leaseId(g.consulService, view.node);
  const lease = renewedLease({
    consulService: g.consulService,
    node: view.node,
    leaseSeconds: g.leaseSeconds,
    source,
    heartbeatAt: null,
    group: groupPeers(view),
  }, start);
  const args = ["-S", g.consulService, "-s", g.services.join(","), "--node", view.node];
  if (g.configPath) args.push("--config", g.configPath);
  return [leaseStep(id, lease), { kind: "guard", op: "start", id, args }];
}

/** Guard first (so it never mistakes the removal for a lapse), then the lease. */
export function guardDownSteps(consulService: string, node: string): (LeaseStep | GuardStep)[] {
  if (node === "") return [];
  const id = leaseId(consulService, node);
  return [
    { kind: "guard", op: "stop", id },
    { kind: "lease", op: "remove", id, path: leasePath(id) },
  ];
}
