/**
 * When a check renews this node's lease, and when a server outage may extend it (pure).
 *
 * Renewal needs first-hand confirmation from this run: the cluster document, read through the
 * servers, places this node active (listed active, not standalone; an all-active document has no
 * standby that could take over, so it needs no lease), this node's own serfHealth passes (and it
 * is not in maintenance) in the catalog's answer, and the probe answered (running or not: an
 * active whose service died keeps its lease so it can restart in place). The new expiry is the
 * boot-clock time at the START of the run plus leaseSeconds, so a slow run never stretches it.
 *
 * A renewing active also writes its heartbeat key (boot-clock ms: every write is a new value)
 * at most every leaseSeconds/3, so a standby can tell an active whose agent gossips but cannot
 * reach the servers.
 */
import type { ClusterView } from "../cluster/view.ts";
import { heartbeatKey } from "../cluster/facts.ts";
import type { KvWriteStep, LeaseStep } from "../plan/step.ts";
import { type Lease, leaseId, leasePath, type Now, renewedLease } from "./lease.ts";

export interface LeaseSettings {
  consulService: string;
  leaseSeconds: number;
  servicePrefix: string;
}

export type LeasePlan =
  | { renew: false; why: string }
  | { renew: true; why: string; lease: LeaseStep; heartbeat: KvWriteStep | null };

/** The other nodes of this node's group (node-level documents), for the outage rule. */
export function groupPeers(view: ClusterView): string[] {
  const p = view.placement;
  if (p.kind !== "active" && p.kind !== "standby") return [];
  const spec = p.group.spec;
  if (spec.mode !== "nodes") return [];
  return [...new Set([...spec.active, ...spec.standby])].filter((n) => n !== view.node);
}

/** The renewal step for a lease (shared by the check, the wrapper and the outage rule). */
export function leaseStep(id: string, lease: Lease): LeaseStep {
  return { kind: "lease", op: "renew", id, path: leasePath(id), lease };
}

export function planLease(
  view: ClusterView,
  probed: unknown | null,
  ownNodeHealthy: boolean | null,
  start: Now,
  previous: Lease | null,
  set: LeaseSettings,
): LeasePlan {
  const p = view.placement;
  if (p.kind === "all-active") {
    return { renew: false, why: "every node is active: no standby can take over, no lease" };
  }
  if (p.kind !== "active") return { renew: false, why: `not an active node (${p.kind})` };
  if (probed === null) return { renew: false, why: "the probe did not answer" };
  if (ownNodeHealthy !== true) {
    return {
      renew: false,
      why: ownNodeHealthy === false
        ? "this node's serfHealth is not passing (or it is in maintenance) in the catalog"
        : "this node's health in the catalog is unknown",
    };
  }
  const id = leaseId(set.consulService, view.node);
  const lastBeat = previous?.heartbeatAt ?? null;
  const beatDue = lastBeat === null || start.boot - lastBeat >= set.leaseSeconds / 3 ||
    start.boot < lastBeat;
  const lease = renewedLease({
    consulService: set.consulService,
    node: view.node,
    leaseSeconds: set.leaseSeconds,
    source: "check",
    heartbeatAt: beatDue ? start.boot : lastBeat,
    group: groupPeers(view),
  }, start);
  const heartbeat: KvWriteStep | null = beatDue
    ? {
      kind: "kv-write",
      key: heartbeatKey(set.servicePrefix, set.consulService, view.node),
      value: String(Math.round(start.boot * 1000)),
      why: "show a standby this active still reaches the servers (heartbeat)",
    }
    : null;
  return {
    renew: true,
    why: "the servers confirmed this node active",
    lease: leaseStep(id, lease),
    heartbeat,
  };
}

/**
 * A node the servers now list as a standby gives up a lease it still holds at once (pure): the
 * document was flipped away from it, so its guard stops the local services within guardPoll
 * instead of at the lease's end or at the next trigger. Only on a server-backed read.
 */
export function planWithdraw(view: ClusterView, previous: Lease | null, set: LeaseSettings) {
  if (previous === null || view.placement.kind !== "standby" || view.node === "") return null;
  const id = leaseId(set.consulService, view.node);
  return { kind: "lease" as const, op: "remove" as const, id, path: leasePath(id) };
}

/** Whether the catalog answer for this node says it is healthy: serfHealth passing, no maintenance. */
export function nodeHealthy(checks: { CheckID: string; Status: string }[]): boolean {
  const serf = checks.find((c) => c.CheckID === "serfHealth");
  if (!serf || serf.Status !== "passing") return false;
  return !checks.some((c) => c.CheckID === "_node_maintenance" && c.Status !== "passing");
}

// ---------------------------------------------------------------------------------------------
// cluster-wide server outage

export type ServerOutage = "fence" | "failsafe";

/** A gossip member as the local agent sees it (Consul's member status 1 = alive). */
export interface Member {
  name: string;
  alive: boolean;
  server: boolean;
}

/**
 * With serverOutage "failsafe", a run whose reads failed for want of a server may extend a
 * still-valid lease when the local agent's gossip shows no server alive AND every other node of
 * this node's group (as the servers last confirmed it) alive: nobody we can reach can reach a
 * server, so nobody can have written a flip. Anything else: no extension (the guard fences when
 * the lease runs out). Datacenter-level documents name no peers and are never extended.
 */
export function planFailsafe(
  mode: ServerOutage,
  previous: Lease | null,
  members: Member[] | null,
  start: Now,
  set: LeaseSettings,
): LeasePlan {
  if (mode !== "failsafe") return { renew: false, why: "serverOutage is fence" };
  if (!previous || previous.renewed > start.boot + 1 || start.boot >= previous.expires) {
    return { renew: false, why: "no valid lease to extend" };
  }
  if (members === null) return { renew: false, why: "the members list could not be read" };
  const serverAlive = members.find((m) => m.server && m.alive);
  if (serverAlive) {
    return { renew: false, why: `server ${serverAlive.name} is alive in gossip: not an outage` };
  }
  if (previous.group.length === 0) return { renew: false, why: "no peers known for this node" };
  const missing = previous.group.filter((n) => !members.some((m) => m.name === n && m.alive));
  if (missing.length > 0) {
    return { renew: false, why: `${missing.join(", ")} not alive in gossip: it may have promoted` };
  }
  const id = leaseId(set.consulService, previous.node);
  const lease = renewedLease({
    consulService: set.consulService,
    node: previous.node,
    leaseSeconds: set.leaseSeconds,
    source: "failsafe",
    heartbeatAt: previous.heartbeatAt,
    group: previous.group,
  }, start);
  return {
    renew: true,
    why: "no server alive and every peer alive in gossip: failsafe extension",
    lease: leaseStep(id, lease),
    heartbeat: null,
  };
}
