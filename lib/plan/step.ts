/**
 * Side effects as data. Planners (pure) return steps; the executor (lib/plan/apply.ts) runs
 * them, or prints them under --dry-run. A step carries everything needed to describe it, so
 * the dry-run line and the log line of a real run are the same sentence (describeStep).
 *
 * Add a kind here, teach describeStep to say it and the executor's Effects to do it; nothing
 * else in the tree performs a side effect that a dry run must skip.
 */
import type { WireService } from "../consul/types.ts";

/** A KV write. `cas` makes it checked (0 = create-only); without it the write is plain. */
export interface KvWriteStep {
  kind: "kv-write";
  key: string;
  value: string;
  cas?: number;
  dc?: string;
  /** Short reason shown after the write ("flip", "clear the switch lock"). */
  why: string;
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

/** A line for the operator; in a dry run it is printed as is. */
export interface MessageStep {
  kind: "message";
  text: string;
}

export type Step =
  | KvWriteStep
  | TagsStep
  | RunStep
  | LockFileStep
  | FlagStep
  | WaitStep
  | MessageStep;

/** One sentence for a step: the dry-run line ("would " + it) and the log line of a real run. */
export function describeStep(s: Step): string {
  switch (s.kind) {
    case "kv-write": {
      const at = s.dc ? ` in ${s.dc}` : "";
      const cas = s.cas === undefined ? "" : s.cas === 0 ? " (create only)" : ` (cas ${s.cas})`;
      return `write ${s.key}${at} = ${s.value}${cas} to ${s.why}`;
    }
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
    case "message":
      return s.text;
  }
}
