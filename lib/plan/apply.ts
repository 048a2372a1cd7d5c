/**
 * The executor: runs planned steps through Effects, or, in a dry run, prints each one as
 * "would …" and performs nothing. The dry-run sandbox is entered here and nowhere else: before
 * the first step of a dry run is printed, the process gives up its permission to start
 * programs, so no bug further down can run an action.
 */
import { describeError } from "../errors.ts";
import type { RunResult } from "../sys/runner.ts";
import type { Change, RecordedOutcome } from "../history/txn.ts";
import type { HistoryRecord } from "../history/entry.ts";
import {
  type AwaitKeysStep,
  type ClusterDocStep,
  type ConfigFileStep,
  describeStep,
  type GuardStep,
  type LeaseStep,
  type LockOwner,
  type RunStep,
  type Step,
  type SwitchLockStep,
} from "./step.ts";

/** What the executor needs from the outside world; tests pass a recording fake. */
export interface Effects {
  /** false when a checked write lost (the key changed, or exists for create-only). */
  kvPut(key: string, value: string, opts: { cas?: number; dc?: string }): Promise<boolean>;
  setTags(step: { serviceId: string; tags: string[]; registration: unknown }): Promise<void>;
  run(step: RunStep): Promise<RunResult>;
  /** May return a note (a stale lock file taken over) that goes after "ok". */
  lockFile(op: "create" | "remove", path: string, owner?: LockOwner): Promise<string | void>;
  sleep(ms: number): Promise<void>;
  /** Take or release the switch lock; taking throws a sentence naming the holder when held. */
  switchLock?(step: SwitchLockStep): Promise<void>;
  /** Keys that did not reach the value in time (`silent`) or answered `failValue`. */
  awaitKeys?(step: AwaitKeysStep): Promise<{ silent: string[]; failed: string[] }>;
  /** A change and its history entry in one transaction (lib/history/txn.ts). */
  recorded?(change: Change, record: HistoryRecord): Promise<RecordedOutcome>;
  /** A checked delete; false when the key changed. */
  kvDelete?(key: string, opts: { cas: number }): Promise<boolean>;
  /** Whether the checked write won, and what happened in other datacenters. */
  clusterDoc?(step: ClusterDocStep): Promise<{ won: boolean; notes: string[] }>;
  /** Write or remove a lease file. */
  /** May return a note (a renewal that kept a longer lease on file). */
  lease?(step: LeaseStep): Promise<string | void>;
  /** Start or stop the lease guard; returns what happened (a pid, "no guard running"). */
  guard?(step: GuardStep): Promise<string>;
  /** Write the config file atomically, mode 0600. */
  configFile?(step: ConfigFileStep): Promise<void>;
}

export interface Outcome {
  step: Step;
  /** The step did what it says (always true in a dry run). */
  ok: boolean;
  /** "ok", "dry run", "lost the race", or the error's one line. */
  detail: string;
  /** For run steps that ran. */
  run?: RunResult;
  /** For await-keys: the keys that did not answer, or answered the failure value. */
  answers?: { silent: string[]; failed: string[] };
  /** For cluster-doc: what happened to each copy. */
  notes?: string[];
  /** The error a failed step threw, for callers that tell a refusal from an unknown state. */
  error?: unknown;
  dryRun: boolean;
}

export interface ExecutorOptions {
  dryRun: boolean;
  /** Where a dry run prints its lines (and message steps of a real run go). */
  print(line: string): void;
  /** Where a real run records each step it performed (a log). */
  record?: (line: string) => void;
  /** Gives up the run permission; injected so unit tests can observe it. */
  dropRun?: () => void;
}

function need<T>(f: T | undefined, kind: string): T {
  if (f === undefined) throw new Error(`no effect for ${kind} steps here`);
  return f;
}

/** Deno's permission API: revoking one command is not enough while run is granted broadly. */
export function dropRunPermission(): void {
  Deno.permissions.revokeSync({ name: "run" });
}

export class Executor {
  /** Every step applied, in order, with its outcome. */
  readonly journal: Outcome[] = [];
  #sealed = false;

  constructor(private effects: Effects, private opts: ExecutorOptions) {}

  get dryRun(): boolean {
    return this.opts.dryRun;
  }

  /**
   * Enter the dry-run sandbox now (a no-op for a real run). Called by apply() before the first
   * step; a command calls it itself once its read-only probes are done and it has no step.
   */
  seal(): void {
    if (!this.opts.dryRun || this.#sealed) return;
    this.#sealed = true;
    (this.opts.dropRun ?? dropRunPermission)();
  }

  async apply(step: Step): Promise<Outcome> {
    const outcome = this.opts.dryRun ? this.#print(step) : await this.#perform(step);
    this.journal.push(outcome);
    return outcome;
  }

  /** Apply in order; with stopOnFailure the first failed step ends the list. */
  async applyAll(steps: Step[], stopOnFailure = false): Promise<Outcome[]> {
    const out: Outcome[] = [];
    for (const s of steps) {
      const o = await this.apply(s);
      out.push(o);
      if (stopOnFailure && !o.ok) break;
    }
    return out;
  }

  #print(step: Step): Outcome {
    this.seal();
    this.opts.print(step.kind === "message" ? step.text : `would ${describeStep(step)}`);
    return { step, ok: true, detail: "dry run", dryRun: true };
  }

  async #perform(step: Step): Promise<Outcome> {
    const done = (ok: boolean, detail: string, run?: RunResult): Outcome => {
      if (step.kind !== "message") {
        this.opts.record?.(`${describeStep(step)}: ${ok ? "ok" : `FAILED (${detail})`}`);
      }
      return run ? { step, ok, detail, run, dryRun: false } : { step, ok, detail, dryRun: false };
    };
    try {
      switch (step.kind) {
        case "kv-write": {
          if (step.record) {
            const change: Change = { kind: "put", key: step.key, value: step.value };
            if (step.cas !== undefined) change.cas = step.cas;
            const r = await need(this.effects.recorded, "recorded").call(
              this.effects,
              change,
              step.record,
            );
            return done(r.won, r.won ? (r.note ? `ok (${r.note})` : "ok") : r.note);
          }
          const opts: { cas?: number; dc?: string } = {};
          if (step.cas !== undefined) opts.cas = step.cas;
          if (step.dc !== undefined) opts.dc = step.dc;
          const won = await this.effects.kvPut(step.key, step.value, opts);
          return done(won, won ? "ok" : "lost the race");
        }
        case "kv-delete": {
          if (step.record) {
            const r = await need(this.effects.recorded, "recorded").call(
              this.effects,
              { kind: "delete", key: step.key, cas: step.cas },
              step.record,
            );
            return done(r.won, r.won ? "ok" : r.note);
          }
          const won = await need(this.effects.kvDelete, step.kind).call(this.effects, step.key, {
            cas: step.cas,
          });
          return done(won, won ? "ok" : "lost the race");
        }
        case "history": {
          const r = await need(this.effects.recorded, "recorded").call(
            this.effects,
            { kind: "none" },
            step.record,
          );
          return done(r.won, r.won ? "ok" : r.note);
        }
        case "flag": {
          const opts: { cas?: number; dc?: string } = step.createOnly ? { cas: 0 } : {};
          if (step.dc !== undefined) opts.dc = step.dc;
          const won = await this.effects.kvPut(step.key, step.value, opts);
          return done(won, won ? "ok" : "already set");
        }
        case "tags":
          await this.effects.setTags(step);
          return done(true, "ok");
        case "run": {
          const r = await this.effects.run(step);
          const ok = !r.spawnError && !r.timedOut && r.code === 0;
          return done(
            ok,
            ok ? "ok" : r.spawnError ?? (r.timedOut ? "timed out" : `exit ${r.code ?? r.signal}`),
            r,
          );
        }
        case "lock-file": {
          const note = await this.effects.lockFile(step.op, step.path, step.owner);
          return done(true, note ? `ok (${note})` : "ok");
        }
        case "wait":
          await this.effects.sleep(step.ms);
          return done(true, "ok");
        case "switch-lock":
          await need(this.effects.switchLock, step.kind).call(this.effects, step);
          return done(true, "ok");
        case "await-keys": {
          const answers = await need(this.effects.awaitKeys, step.kind).call(this.effects, step);
          const ok = answers.silent.length === 0 && answers.failed.length === 0;
          const o = done(
            ok,
            ok
              ? "ok"
              : answers.failed.length > 0
              ? `${answers.failed.join(", ")} answered ${step.failValue}`
              : `no answer from ${answers.silent.join(", ")}`,
          );
          return { ...o, answers };
        }
        case "cluster-doc": {
          const r = await need(this.effects.clusterDoc, step.kind).call(this.effects, step);
          return { ...done(r.won, r.won ? "ok" : r.notes[0] ?? "lost the race"), notes: r.notes };
        }
        case "lease": {
          const note = await need(this.effects.lease, step.kind).call(this.effects, step);
          return done(true, note ? `ok (${note})` : "ok");
        }
        case "guard": {
          const note = await need(this.effects.guard, step.kind).call(this.effects, step);
          return done(true, `ok (${note})`);
        }
        case "config-file":
          await need(this.effects.configFile, step.kind).call(this.effects, step);
          return done(true, "ok");
        case "message":
          this.opts.print(step.text);
          return done(true, "ok");
      }
    } catch (e) {
      return { ...done(false, describeError(e)), error: e };
    }
  }
}
