/**
 * The reliability results collector. Every test file of the fault, race, fuzz and security suite
 * owns one JSON file, `test-results/reliability/<file>.json`, rewritten (atomically) after every
 * recorded case, so files running in parallel never share a file and a crash mid-file still
 * leaves what was recorded. `deno task reliability` (scripts/reliability.ts) merges them into
 * the README's "Reliability" table.
 *
 * A case is one input or one scenario: a fuzz input, a race round, a fault scenario. It is
 * "tried" when it ran to a verdict and "held" when every assertion about it passed.
 */
import { basename, join } from "node:path";
import { REPO } from "../_cli.ts";

/** Row names of the README table (scripts/reliability.ts keeps this order). */
export const Category = {
  faults: "Fault matrix (real agents)",
  races: "Races (real agents)",
  fuzzDocs: "Fuzz: cluster documents",
  fuzzTriggers: "Fuzz: trigger values",
  fuzzWatch: "Fuzz: watch payloads",
  fuzzArgv: "Fuzz: command lines",
  storm: "Restart-storm protection",
  security: "Security",
} as const;
export type CategoryName = typeof Category[keyof typeof Category];

/**
 * The full run (scripts/test.sh with no arguments sets POWERCONSUL_FULL_RUN=1) writes the files
 * the README's Reliability table is built from; a partial run writes beside them, under
 * test-results/partial/, so running one file never replaces the last full report.
 */
export const RESULTS_DIR = Deno.env.get("POWERCONSUL_FULL_RUN") === "1"
  ? join(REPO, "test-results", "reliability")
  : join(REPO, "test-results", "partial", "reliability");

export interface CaseRecord {
  category: CategoryName;
  name: string;
  tried: number;
  held: number;
  /** The first few failures, one line each (for the details view). */
  failures?: string[];
}

export interface ResultsFile {
  file: string;
  started: string;
  updated: string;
  /** Seed of the file's pseudo-random inputs, when it has any. */
  seed?: number;
  cases: CaseRecord[];
}

export class Tally {
  readonly path: string;
  #data: ResultsFile;

  /** `file`: the test module's `import.meta.url`. Resets that file's results. */
  constructor(moduleUrl: string, opts: { seed?: number } = {}) {
    const file = basename(new URL(moduleUrl).pathname).replace(/\.ts$/, "");
    this.path = join(RESULTS_DIR, `${file}.json`);
    const now = new Date().toISOString();
    this.#data = { file: `tests/faults/${file}.ts`, started: now, updated: now, cases: [] };
    if (opts.seed !== undefined) this.#data.seed = opts.seed;
    this.#flush();
  }

  /** Record a group of cases (e.g. 300 race rounds), with the first failures. */
  add(category: CategoryName, name: string, tried: number, held: number, failures: string[] = []) {
    const rec: CaseRecord = { category, name, tried, held };
    if (failures.length > 0) {
      rec.failures = failures.slice(0, 10).map((f) => (f.length > 500 ? `${f.slice(0, 500)}…` : f));
    }
    this.#data.cases.push(rec);
    this.#flush();
  }

  /**
   * Run one case: recorded as held when `fn` returns, as not held (and rethrown, so the test
   * fails) when it throws.
   */
  async case<T>(category: CategoryName, name: string, fn: () => Promise<T>): Promise<T> {
    try {
      const v = await fn();
      this.add(category, name, 1, 1);
      return v;
    } catch (e) {
      this.add(category, name, 1, 0, [e instanceof Error ? e.message.split("\n")[0]! : String(e)]);
      throw e;
    }
  }

  #flush() {
    this.#data.updated = new Date().toISOString();
    Deno.mkdirSync(RESULTS_DIR, { recursive: true });
    const tmp = `${this.path}.${Deno.pid}.tmp`;
    Deno.writeTextFileSync(tmp, JSON.stringify(this.#data, null, 1) + "\n");
    Deno.renameSync(tmp, this.path);
  }
}

/** A line of a CLI run that only a crash prints: a stack frame or Deno's uncaught-error banner. */
export function crashLine(text: string): string | undefined {
  return text.split("\n").find((l) =>
    /^\s+at /.test(l) || /^error: Uncaught/.test(l) || /^\s*(TypeError|RangeError):/.test(l)
  );
}
