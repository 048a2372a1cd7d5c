/**
 * Role resolution as two pure steps:
 *   place(doc, node, dc, datacenters) → where the node sits, and which instances are "the actives"
 *   decide(placement, actives, takeover?) → role, expected state, the KV repairs that are due,
 *                                       and the sentences every command prints about the role
 * A live standby's decision also takes what it has seen over its earlier runs (takeover.ts):
 * it takes over only once every active has been down long enough for its kind of failure.
 */
import type { HistoryAction } from "../history/entry.ts";
import { ClusterError } from "../errors.ts";
import { type ClusterDoc, type Group, selectGroup } from "./doc.ts";
import type { TakeoverState, Timing } from "./takeover.ts";
import { decideObserved } from "./role_observed.ts";

/** A node's role for a service; also the role a trigger acts as. */
export type Role = "standalone" | "primary" | "secondary";

/** The role with how a standby stands, for status views. */
export type Stance = Role | "secondary-acting-primary" | "secondary-waiting";

export type Placement =
  | { kind: "standalone"; reason: string }
  | { kind: "all-active"; reason: string; pattern?: string }
  | {
    kind: "active" | "standby";
    mode: "nodes" | "datacenters";
    lock: boolean;
    pattern?: string;
    group: Group;
    /** Where the actives are: node names (any datacenter) or one datacenter. */
    actives: { nodes: string[] } | { datacenter: string };
    reason: string;
  };

export interface PlaceInput {
  doc: ClusterDoc | null;
  node: string;
  datacenter: string;
  /** Datacenters the catalog knows; required for datacenter-level documents. */
  datacenters?: string[];
}

/** Where the node sits in the document. Throws ClusterError for every document error. */
export function place(input: PlaceInput): Placement {
  const { doc, node, datacenter } = input;
  if (doc === null) return { kind: "standalone", reason: "no cluster document: standalone" };
  const sel = selectGroup(doc, node);
  const spec = sel.group.spec;
  const common = sel.pattern === undefined ? {} : { pattern: sel.pattern };
  const via = sel.pattern === undefined ? "" : ` (filter "${sel.pattern}")`;
  const placed = (
    kind: "active" | "standby",
    mode: "nodes" | "datacenters",
    actives: { nodes: string[] } | { datacenter: string },
    reason: string,
  ): Placement => ({ kind, mode, lock: sel.lock, group: sel.group, actives, reason, ...common });
  if (spec.mode === "all-active") {
    return { kind: "all-active", reason: `clustered, every node active${via}`, ...common };
  }
  if (spec.mode === "nodes") {
    const kind = side(spec.active.includes(node), spec.standby.includes(node));
    if (!kind) {
      throw new ClusterError(`node ${node} is in neither active_nodes nor standby_nodes${via}`);
    }
    return placed(kind, "nodes", { nodes: spec.active }, `node ${node} is listed ${kind}${via}`);
  }
  const known = input.datacenters;
  if (!known) throw new ClusterError("datacenter list unavailable for a datacenter-level document");
  for (const dc of [spec.active, spec.standby]) {
    if (!known.includes(dc)) {
      throw new ClusterError(
        `datacenter ${dc} is unknown to the catalog (known: ${known.join(", ")})`,
      );
    }
  }
  const kind = side(datacenter === spec.active, datacenter === spec.standby);
  if (!kind) {
    throw new ClusterError(
      `local datacenter ${datacenter} is neither active (${spec.active}) nor standby (${spec.standby})${via}`,
    );
  }
  return placed(
    kind,
    "datacenters",
    { datacenter: spec.active },
    `datacenter ${datacenter} is ${kind}${via}`,
  );
}

function side(active: boolean, standby: boolean): "active" | "standby" | undefined {
  return active ? "active" : standby ? "standby" : undefined;
}

export interface ActiveInstance {
  node: string;
  datacenter: string;
  passing: boolean;
  failing: string[];
  /** Its checks have not run yet (just registered or agent restarted): neither up nor down. */
  pending?: boolean;
  /**
   * Its health reflects the current document: its checks changed after the document was
   * written, or its powerconsul check says it runs as an active. A "passing" left over from
   * when it was a stopped standby is not settled. Unknown (undefined) counts as settled.
   */
  settled?: boolean;
}

export interface Decision {
  role: Role;
  clustered: boolean;
  /** The resource should be running. */
  expects: boolean;
  /** A standby with no active passing, taking over (not while locked). */
  actingPrimary: boolean;
  /** A standby with no active passing that must not take over: the document is locked. */
  waiting: boolean;
  /** -U would flip the document now (standby, no active passing, no lock). */
  flipDue: boolean;
  /** The lock can be cleared (standby that sees an active passing while locked). */
  unlockDue: boolean;
  /**
   * An active in a locked document: it clears the lock itself once its own check passes (its
   * resource runs as an active's should), first-hand evidence the switch has happened.
   */
  unlockOnPass: boolean;
  /** The role a trigger acts as: a standby taking over acts as primary. */
  actsAs: Role;
  /** The role with how a standby stands (acting as primary, waiting). */
  stance: Stance;
  /** Why, with the actives' health ("a1:passing, a2:serfHealth=critical"): the check's message. */
  reason: string;
  /**
   * The same sentence without instance detail, so a live agent and an offline snapshot with the
   * same document read alike: what triggers print and log.
   */
  why: string;
}

/**
 * What a live standby knows beyond this run's catalog answer: its memory of the actives after
 * this run's observation, the clock, the timings, and its own node's health from the same
 * answer (null when it could not be told: it then never takes over).
 */
export interface TakeoverInput {
  state: TakeoverState;
  now: number;
  timing: Timing;
  self: { healthy: boolean; detail: string } | null;
  /**
   * A locked document: the history's newest document change, when it could be read (only read
   * while no active passes). "start-primary" means the switch held the new active's check
   * passing (its -F lock file) until it was over.
   */
  lockedBy?: HistoryAction | null;
}

/** Names of the relevant active instances that pass, for messages. */
function describeActives(actives: ActiveInstance[]): string {
  if (actives.length === 0) return "no active instance registered";
  return actives.map((a) => `${a.node}:${a.passing ? "passing" : a.failing.join("+") || "failing"}`)
    .join(", ");
}

/**
 * The decision for a placement, given the health of the relevant active instances (only needed
 * for standbys; instances not matching serviceFilter already removed). The only place that words
 * a role: every command prints `reason` or `why`.
 */
export function decide(
  p: Placement,
  actives: ActiveInstance[] = [],
  takeover?: TakeoverInput,
): Decision {
  const base = {
    actingPrimary: false,
    waiting: false,
    flipDue: false,
    unlockDue: false,
    unlockOnPass: false,
  };
  const said = (because: string) => ({ reason: because, why: because });
  switch (p.kind) {
    case "standalone":
      return {
        ...base,
        role: "standalone",
        actsAs: "standalone",
        stance: "standalone",
        clustered: false,
        expects: true,
        ...said(p.reason),
      };
    case "all-active":
    case "active":
      return {
        ...base,
        unlockOnPass: p.kind === "active" && p.lock,
        role: "primary",
        actsAs: "primary",
        stance: "primary",
        clustered: true,
        expects: true,
        ...said(p.reason),
      };
    case "standby": {
      const seen = describeActives(actives);
      const standby = {
        ...base,
        role: "secondary" as const,
        actsAs: "secondary" as const,
        stance: "secondary" as Stance,
        clustered: true,
      };
      /** `detail` is the instance health, left out of `why`. */
      const because = (head: string, detail: string | null, tail = "") => ({
        reason: `${p.reason}; ${head}${detail === null ? "" : ` (${detail})`}${tail}`,
        why: `${p.reason}; ${head}${tail}`,
      });
      // Every way a standby stays stopped without a passing active: it waits, never takes over.
      const wait = (words: { reason: string; why: string }): Decision => ({
        ...standby,
        stance: "secondary-waiting",
        expects: false,
        waiting: true,
        ...words,
      });
      if (takeover) return decideObserved(p, actives, takeover, { standby, wait, because, seen });
      if (actives.some((a) => a.passing)) {
        return {
          ...standby,
          expects: false,
          // clear a switch lock only on evidence from after the switch
          unlockDue: p.lock && actives.some((a) => a.passing && a.settled !== false),
          ...because("an active instance is passing", seen),
        };
      }
      if (actives.length === 0) {
        // A dead node keeps its registration (serfHealth shows the death); no registration at
        // all means not registered yet (booting, deploying) or removed on purpose: unknown,
        // and unknown is never acted on.
        return wait(because(
          "no active instance is registered in the catalog: not taking over on an absence " +
            "(register the service on the actives, or run start-primary)",
          null,
        ));
      }
      const pending = actives.filter((a) => a.pending).map((a) => a.node);
      if (pending.length > 0) {
        return wait({
          reason: `${p.reason}; active ${pending.join(", ")} has not run its checks yet ` +
            `(${seen}): staying stopped until it reports`,
          why: `${p.reason}; an active instance has not run its checks yet: staying stopped ` +
            "until it reports",
        });
      }
      if (p.lock) {
        return wait(because(
          "no active instance passing",
          seen,
          " but the cluster document is locked (a switch is under way): staying stopped",
        ));
      }
      return {
        ...standby,
        actsAs: "primary",
        stance: "secondary-acting-primary",
        expects: true,
        actingPrimary: true,
        flipDue: true,
        ...because("no active instance passing", seen, ": acting as primary"),
      };
    }
  }
}

/** Keep the instances that count as "the actives" for a placement. */
export function relevantActives<T extends { node: string; datacenter: string }>(
  p: Placement,
  instances: T[],
  serviceFilter: RegExp | null,
): T[] {
  if (p.kind !== "standby" && p.kind !== "active") return [];
  return instances.filter((i) => {
    if (serviceFilter && !serviceFilter.test(i.node)) return false;
    if ("nodes" in p.actives) return p.actives.nodes.includes(i.node);
    return i.datacenter === p.actives.datacenter;
  });
}

/** serviceFilter matched from the start of the node name. */
export function compileFilter(f: string | null): RegExp | null {
  return f === null ? null : new RegExp(`^(?:${f})`);
}
