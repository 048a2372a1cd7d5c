/**
 * Side effects as data. Planners (pure) return steps; the executor (lib/plan/apply.ts) runs
 * them, or prints them under --dry-run. A step carries everything needed to describe it, so
 * the dry-run line and the log line of a real run are the same sentence (describeStep).
 *
 * Add a kind here, teach describeStep to say it and the executor's Effects to do it; nothing
 * else in the tree performs a side effect that a dry run must skip.
 */
import type { WireService } from "../consul/types.ts";
import type { HistoryRecord } from "../history/entry.ts";
import type { Lease } from "../ha/lease.ts";

/** A KV write. `cas` makes it checked (0 = create-only); without it the write is plain. */
export interface KvWriteStep {
  kind: "kv-write";
  key: string;
  value: string;
  cas?: number;
  dc?: string;
  /** Short reason shown after the write ("flip", "clear the switch lock"). */
  why: string;
  /** A history entry written in the same transaction: both happen or neither. */
  record?: HistoryRecord;
}

/** A checked KV delete (the pause flag), optionally with its history entry. */
export interface KvDeleteStep {
  kind: "kv-delete";
  key: string;
  cas: number;
  why: string;
  record?: HistoryRecord;
}

/** A history entry alone, for a change that wrote no document (an abort). */
export interface HistoryStep {
  kind: "history";
  record: HistoryRecord;
}

/** Replace the tags of a local service registration (all other fields kept). */
export interface TagsStep {
  kind: "tags";
  serviceId: string;
  tags: string[];
  /** The registration as the agent returned it; re-registered with only the tags changed. */
  registration: WireService;
}

/** Run a program (never through a shell unless argv[0] is one the planner chose). */
export interface RunStep {
  kind: "run";
  argv: string[];
  timeoutMs: number;
  /** What the run is, for messages ("start apache2", "trigger web/primary/critical"). */
  label: string;
  stdin?: string;
  env?: Record<string, string>;
}

/** Create (exclusively) or remove one of powerconsul's own lock/noop files. */
export interface LockFileStep {
  kind: "lock-file";
  op: "create" | "remove";
  path: string;
  /** What the file records: the action taking it, and whether this process holds it. */
  owner?: LockOwner;
}

export interface LockOwner {
  action: string;
  name: string;
  consulService: string;
  /** "self": the file names this process (stale once it is gone); "none": a protocol clears it. */
  holder: "self" | "none";
}

/** Set a promote/demote switch flag (START, WAIT, NULL). */
export interface FlagStep {
  kind: "flag";
  key: string;
  value: string;
  dc?: string;
  /** Create only when missing (cas 0); never overwrites a concurrent value. */
  createOnly?: boolean;
}

/** Wait before the next step (a fixed pause, e.g. for running checks to see a lock file). */
export interface WaitStep {
  kind: "wait";
  ms: number;
  why: string;
}

/** Take or release the switch lock: a Consul session lock that lets one switch run at a time. */
export interface SwitchLockStep {
  kind: "switch-lock";
  op: "take" | "release";
  key: string;
  /** Who takes it, stored in the key ("start-primary on web2"). */
  holder: string;
}

/** Wait (blocking reads, up to a timeout) until every key holds `value`. */
export interface AwaitKeysStep {
  kind: "await-keys";
  keys: { key: string; dc?: string }[];
  value: string;
  /** A value that ends the wait at once as a failure (a node saying it cannot). */
  failValue?: string;
  timeoutMs: number;
}

/** Write the cluster document (checked on the index read) and copy it to other datacenters. */
export interface ClusterDocStep {
  kind: "cluster-doc";
  key: string;
  value: string;
  cas: number;
  why: string;
}

/** Renew (write atomically) or remove this node's lease file for a service (lib/ha/lease.ts). */
export interface LeaseStep {
  kind: "lease";
  op: "renew" | "remove";
  /** `<svc>@<node>`: names the lease, the fence marker and the guard's pid file. */
  id: string;
  path: string;
  /** The lease to write (renew only). */
  lease?: Lease;
}

/** Start this node's lease guard (detached) or stop it (lib/ha/guard_proc.ts). */
export interface GuardStep {
  kind: "guard";
  op: "start" | "stop";
  id: string;
  /** The guard's command line after `powerconsul guard` (start only). */
  args?: string[];
}

/** A line for the operator; in a dry run it is printed as is. */
export interface MessageStep {
  kind: "message";
  text: string;
}

/** Write powerconsul's own config file (atomically, mode 0600): `config bootstrap`. */
export interface ConfigFileStep {
  kind: "config-file";
  path: string;
  config: Record<string, unknown>;
}

export type Step =
  | ConfigFileStep
  | KvWriteStep
  | KvDeleteStep
  | HistoryStep
  | TagsStep
  | RunStep
  | LockFileStep
  | FlagStep
  | WaitStep
  | SwitchLockStep
  | AwaitKeysStep
  | ClusterDocStep
  | LeaseStep
  | GuardStep
  | MessageStep;

/** One sentence for a step: the dry-run line ("would " + it) and the log line of a real run. */
export function describeStep(s: Step): string {
  switch (s.kind) {
    case "kv-write": {
      const at = s.dc ? ` in ${s.dc}` : "";
      const cas = s.cas === undefined ? "" : s.cas === 0 ? " (create only)" : ` (cas ${s.cas})`;
      return `write ${s.key}${at} = ${s.value}${cas} to ${s.why}${recorded(s.record)}`;
    }
    case "kv-delete":
      return `delete ${s.key} (cas ${s.cas}) to ${s.why}${recorded(s.record)}`;
    case "history":
      return `record ${s.record.entry.action} in ${s.record.key}: ${s.record.entry.reason}`;
    case "tags":
      return `set the tags of ${s.serviceId} to ${JSON.stringify(s.tags)}`;
    case "run":
      return `run ${s.label}: ${s.argv.join(" ")}`;
    case "lock-file":
      return `${s.op} lock file ${s.path}`;
    case "flag": {
      const at = s.dc ? ` in ${s.dc}` : "";
      return `set ${s.key}${at} = ${s.value}${s.createOnly ? " (if missing)" : ""}`;
    }
    case "wait":
      return `wait ${s.ms / 1000}s ${s.why}`;
    case "switch-lock":
      return `${s.op} the switch lock ${s.key}`;
    case "await-keys": {
      const keys = s.keys.map((k) => `${k.key}${k.dc ? ` in ${k.dc}` : ""}`).join(", ");
      return `wait up to ${s.timeoutMs / 1000}s for ${keys} to be ${s.value}`;
    }
    case "cluster-doc":
      return `write ${s.key} = ${s.value} (cas ${s.cas}) to ${s.why}`;
    case "lease":
      return s.op === "remove"
        ? `remove the lease ${s.path}`
        : `renew the lease ${s.path} until ${s.lease?.expiresWall ?? "?"} (boot clock ${
          s.lease?.expires.toFixed(1) ?? "?"
        }s, ${s.lease?.source ?? "?"})`;
    case "guard":
      return s.op === "stop"
        ? `stop the lease guard of ${s.id}`
        : `start the lease guard of ${s.id}: powerconsul guard ${(s.args ?? []).join(" ")}`;
    case "config-file":
      return `write ${s.path} (mode 0600):\n${JSON.stringify(s.config, null, 2)}`;
    case "message":
      return s.text;
  }
}

function recorded(r: HistoryRecord | undefined): string {
  return r ? `, recorded as ${r.entry.action} in ${r.key} (one transaction)` : "";
}
