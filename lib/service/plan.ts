/**
 * `powerconsul service <name> …` decided without I/O: whether an action may run on this node's
 * role, the ordered start/stop steps, what start-primary switches, and what a promote/demote
 * handler does with a role key's value. The command line is in args.ts, the role keys in
 * role_keys.ts (both re-exported here).
 */
import type { ClusterDoc } from "../cluster/doc.ts";
import type { Decision, Placement } from "../cluster/role.ts";
import type { LockRecord } from "../sys/lockfile.ts";
import type { RoleKeyValue, SwitchKind } from "./role_keys.ts";

export * from "./args.ts";
export * from "./role_keys.ts";

// ---------------------------------------------------------------------------------------------
// role gates

export interface Gate {
  allowed: boolean;
  /** One line: why it is refused (with the hint), or why it may run. */
  reason: string;
}

/**
 * May `action` run on a node with this role?
 * - start/restart: where the resource should run — standalone, an active node, an all-active
 *   cluster, and a standby acting as primary (no active passing, document unlocked: the check
 *   expects it running too). A standby refuses and says how to promote.
 * - stop: on a standby (any standby state) and on a standalone node (nothing to protect); an
 *   active node and an all-active cluster refuse.
 */
export function gate(action: "start" | "stop" | "restart", name: string, d: Decision): Gate {
  const standalone = d.stance === "standalone";
  // a standby in any state (acting as primary, waiting, or with an active passing)
  const standby = d.role === "secondary";
  if (action === "start" || action === "restart") {
    if (d.actsAs !== "secondary") {
      return {
        allowed: true,
        reason: standalone
          ? "standalone (no cluster document)"
          : d.stance === "secondary-acting-primary"
          ? "standby acting as primary (no active instance passing)"
          : "this node is active",
      };
    }
    return {
      allowed: false,
      reason: `refused: this node is a standby (${d.reason}); ` +
        `run 'service ${name} start-primary' on this node to make it active`,
    };
  }
  if (standalone || standby) {
    return { allowed: true, reason: standalone ? "standalone (no cluster document)" : "standby" };
  }
  return {
    allowed: false,
    reason: `refused: this node is active (${d.reason}); ` +
      `run 'service ${name} start-primary' on a standby node to make it active, then stop here`,
  };
}

// ---------------------------------------------------------------------------------------------
// start/stop steps

export interface LocalState {
  name: string;
  /** null: the state could not be read (the error is in `detail`). */
  running: boolean | null;
  detail: string;
}

export type Step =
  | { service: string; op: "start" | "stop" }
  | { service: string; op: "skip"; line: string };

/**
 * Steps to bring local services to `want`: start in the given order, stop in reverse. A service
 * already in the wanted state is a `skip` with its line (`already running`/`already stopped`).
 * A service whose state could not be read is acted on anyway: start and stop are idempotent for
 * LSB scripts and systemd, and refusing would leave the node half switched.
 */
export function planSteps(want: "start" | "stop", states: LocalState[]): Step[] {
  const ordered = want === "start" ? states : [...states].reverse();
  return ordered.map((s) => {
    if (want === "start" && s.running === true) {
      return { service: s.name, op: "skip", line: `${s.name}: already running` };
    }
    if (want === "stop" && s.running === false) {
      return { service: s.name, op: "skip", line: `${s.name}: already stopped` };
    }
    return { service: s.name, op: want };
  });
}

/** `<svc>: starting… ok` / `<svc>: stopping… FAILED (exit 1: …)`. */
export function stepLine(
  service: string,
  op: "start" | "stop",
  ok: boolean,
  failure?: string,
): string {
  const verb = op === "start" ? "starting…" : "stopping…";
  return `${service}: ${verb} ${ok ? "ok" : `FAILED (${failure ?? "unknown error"})`}`;
}

// ---------------------------------------------------------------------------------------------
// start-primary

/** A node taking part in a switch, with the datacenter whose KV its key watch reads. */
export interface Participant {
  node: string;
  kind: SwitchKind;
  datacenter: string;
}

export interface SwitchPlan {
  mode: "nodes" | "datacenters";
  /** Filter pattern of the group being switched, for filter documents. */
  pattern?: string;
  /** Nodes to promote (today's standbys) and to demote (today's actives). */
  promote: string[];
  demote: string[];
  /** Every flag to set to START and wait for, demotes first. */
  participants: Participant[];
  /** Datacenters whose KV holds participants' flags. */
  datacenters: string[];
  /** The document to write (roles swapped, `"lock": true`). */
  next: Record<string, unknown>;
}

type Swap = (
  pattern: string | undefined,
  roles: { active: string[]; standby: string[] } | { activeDc: string; standbyDc: string },
) => Record<string, unknown>;

/**
 * What start-primary switches, run on `node` with `placement`:
 * - node-level documents (plain or a filter group) swap their lists: every standby of the group
 *   becomes active and every active a standby, as the -U flip does;
 * - datacenter-level documents swap the two datacenters: the nodes with an instance of the
 *   service in the active datacenter demote, those in the standby datacenter promote.
 * `instances` are the service's instances in every datacenter (serviceFilter applied); a flag
 * lives in the KV of its node's datacenter (KV is not replicated), `localDc` when the node has
 * no instance. Refused (a sentence) for anything else.
 */
export function planSwitch(
  doc: ClusterDoc | null,
  placement: Placement,
  node: string,
  swap: Swap,
  instances: { node: string; datacenter: string }[] = [],
  localDc = "",
): SwitchPlan | string {
  if (doc === null || placement.kind === "standalone") {
    return "no cluster document for this service: it is standalone, nothing to switch";
  }
  if (placement.kind === "all-active") {
    return "the cluster document makes every node active: nothing to switch";
  }
  if (placement.kind === "active") {
    return placement.mode === "datacenters"
      ? `this node's datacenter is already active`
      : `${node} is already active`;
  }
  if (placement.lock) {
    return "the cluster document is locked: a switch is under way or has not been confirmed " +
      "yet (the lock clears when the new active's check passes); see " +
      "'powerconsul status'";
  }
  const dcOf = (n: string) => instances.find((i) => i.node === n)?.datacenter ?? localDc;
  const spec = placement.group.spec;
  let promote: string[];
  let demote: string[];
  let next: Record<string, unknown>;
  let where: (n: string) => string = dcOf;
  if (spec.mode === "nodes") {
    promote = [...spec.standby];
    demote = [...spec.active];
    next = swap(placement.pattern, { active: promote, standby: demote });
  } else if (spec.mode === "datacenters") {
    const inDc = (dc: string) => [
      ...new Set(instances.filter((i) => i.datacenter === dc).map((i) => i.node)),
    ];
    promote = inDc(spec.standby);
    demote = inDc(spec.active);
    if (promote.length === 0) {
      return `no instance of the service in the standby datacenter ${spec.standby}: ` +
        "nothing to promote";
    }
    next = swap(placement.pattern, { activeDc: spec.standby, standbyDc: spec.active });
    where = (n) => promote.includes(n) ? spec.standby : spec.active;
  } else {
    return "not a document with roles";
  }
  const participants: Participant[] = [
    ...demote.map((n) => ({ node: n, kind: "demote" as const, datacenter: where(n) })),
    ...promote.map((n) => ({ node: n, kind: "promote" as const, datacenter: where(n) })),
  ];
  const plan: SwitchPlan = {
    mode: spec.mode,
    promote,
    demote,
    participants,
    datacenters: [...new Set(participants.map((p) => p.datacenter))],
    next,
  };
  if (placement.pattern !== undefined) plan.pattern = placement.pattern;
  return plan;
}

/** What a promote/demote handler does for a flag value (the lock file tells whether it took part). */
export type HandlerPlan =
  | { op: "prepare" }
  | { op: "finish"; lock: LockRecord }
  | { op: "nothing"; why: string };

export function planHandler(
  kind: SwitchKind,
  value: RoleKeyValue,
  lock: LockRecord | null,
  consulService: string,
): HandlerPlan {
  if (value === "START") return { op: "prepare" };
  if (value === "WAIT") {
    return { op: "nothing", why: `${kind} flag is WAIT: this node has answered` };
  }
  if (value === "FAILED") {
    return { op: "nothing", why: `${kind} flag is FAILED: waiting for start-primary --abort` };
  }
  if (lock && lock.action === kind && lock.consulService === consulService) {
    return { op: "finish", lock };
  }
  return { op: "nothing", why: `${kind} flag is NULL and this node holds no ${kind} lock: idle` };
}
