/**
 * Recording fakes for unit tests of orchestration: a clock that only moves when told, a runner
 * that records argv and answers from a script, and executor Effects that record every call.
 */
import type { Effects } from "../../lib/plan/apply.ts";
import type { RunStep } from "../../lib/plan/step.ts";
import type { Runner, RunOptions, RunResult } from "../../lib/sys/runner.ts";

/** A clock for code that takes `now()` and `sleep(ms)`; sleeping advances it at once. */
export class FakeClock {
  constructor(public ms = 1_700_000_000_000) {}
  now = (): number => this.ms;
  sleep = (ms: number): Promise<void> => {
    this.ms += Math.max(0, ms);
    return Promise.resolve();
  };
  advance(ms: number): void {
    this.ms += ms;
  }
}

export function runResult(argv: string[], over: Partial<RunResult> = {}): RunResult {
  return { argv, code: 0, signal: null, stdout: "", stderr: "", timedOut: false, ms: 1, ...over };
}

/** Records every run; `answer` picks the result (default: exit 0, no output). */
export class RecordingRunner implements Runner {
  readonly calls: { argv: string[]; opts: RunOptions }[] = [];
  constructor(private answer: (argv: string[]) => Partial<RunResult> = () => ({})) {}
  run(argv: string[], opts: RunOptions): Promise<RunResult> {
    this.calls.push({ argv, opts });
    return Promise.resolve(runResult(argv, this.answer(argv)));
  }
}

/** Effects that record each call as one line; kvPut answers from `casWins` (default true). */
export class RecordingEffects implements Effects {
  readonly calls: string[] = [];
  casWins = true;
  constructor(readonly runner: Runner = new RecordingRunner(), readonly clock = new FakeClock()) {}
  kvPut(key: string, value: string, opts: { cas?: number; dc?: string }): Promise<boolean> {
    this.calls.push(`kv ${key}=${value} cas=${opts.cas ?? "-"} dc=${opts.dc ?? "-"}`);
    return Promise.resolve(opts.cas === undefined ? true : this.casWins);
  }
  setTags(s: { serviceId: string; tags: string[] }): Promise<void> {
    this.calls.push(`tags ${s.serviceId}=${s.tags.join(",")}`);
    return Promise.resolve();
  }
  run(s: RunStep): Promise<RunResult> {
    this.calls.push(`run ${s.argv.join(" ")}`);
    return this.runner.run(s.argv, { timeoutMs: s.timeoutMs });
  }
  lockFile(op: "create" | "remove", path: string): Promise<void> {
    this.calls.push(`lock-file ${op} ${path}`);
    return Promise.resolve();
  }
  sleep(ms: number): Promise<void> {
    this.calls.push(`sleep ${ms}`);
    return this.clock.sleep(ms);
  }
}
