/**
 * Watching local services from a test: a poller that samples, every `intervalMs` (default 50),
 * which of N services is running and reports how long two or more ran at once ("two actives").
 *
 * @module
 */

/** Something that can say whether it runs (an `InitScriptHandle` qualifies). */
export interface Watched {
  name: string;
  isRunning(): Promise<boolean>;
}

/** One sample: when it was taken (ms, `performance.now()` clock) and which services ran. */
export interface Sample {
  at: number;
  running: string[];
}

/** What the poller saw. */
export interface OverlapReport {
  /** Number of samples taken. */
  samples: number;
  /** Samples that saw two or more services running. */
  overlapSamples: number;
  /**
   * Longest stretch with two or more running, in seconds: from the first sample that saw it to
   * the first later sample that did not (or to the last sample). 0 when never seen.
   */
  maxOverlapSeconds: number;
  /** Sum of all such stretches, in seconds. */
  totalOverlapSeconds: number;
  /** Most services seen running in one sample. */
  maxRunning: number;
  /** Longest gap between two consecutive samples, in ms (the poller's real resolution). */
  maxGapMs: number;
  /** Services running in the last sample. */
  last: string[];
}

/** A running poller; `stop()` (idempotent) ends it and returns the report. */
export interface OverlapPoller extends AsyncDisposable {
  /** The report so far (the poller keeps running). */
  report(): OverlapReport;
  stop(): Promise<OverlapReport>;
}

/** Summarise samples (in time order) into an {@link OverlapReport}. Pure. */
export function overlapReport(samples: Sample[]): OverlapReport {
  let overlapSamples = 0;
  let maxRunning = 0;
  let maxGapMs = 0;
  let maxOverlap = 0;
  let total = 0;
  let since: number | undefined;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    if (i > 0) maxGapMs = Math.max(maxGapMs, s.at - samples[i - 1]!.at);
    maxRunning = Math.max(maxRunning, s.running.length);
    const two = s.running.length >= 2;
    if (two) overlapSamples++;
    if (two && since === undefined) since = s.at;
    if (!two && since !== undefined) {
      maxOverlap = Math.max(maxOverlap, s.at - since);
      total += s.at - since;
      since = undefined;
    }
  }
  if (since !== undefined) {
    const end = samples[samples.length - 1]!.at;
    maxOverlap = Math.max(maxOverlap, end - since);
    total += end - since;
  }
  return {
    samples: samples.length,
    overlapSamples,
    maxOverlapSeconds: maxOverlap / 1000,
    totalOverlapSeconds: total / 1000,
    maxRunning,
    maxGapMs,
    last: samples.length > 0 ? samples[samples.length - 1]!.running : [],
  };
}

/**
 * Start sampling `services` every `intervalMs` (default 50, at most 100 ms apart is what the
 * clustering tests need; check `maxGapMs` in the report). Stop it in `finally` (or `await using`).
 */
export function watchOverlap(
  services: Watched[],
  opts: { intervalMs?: number } = {},
): OverlapPoller {
  const intervalMs = opts.intervalMs ?? 50;
  const samples: Sample[] = [];
  let stopping = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (!stopping) {
      const at = performance.now();
      const states = await Promise.all(services.map((s) => s.isRunning().catch(() => false)));
      samples.push({ at, running: services.filter((_, i) => states[i]).map((s) => s.name) });
      if (stopping) break;
      const wait = Math.max(0, intervalMs - (performance.now() - at));
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, wait);
      });
    }
  })();
  let stopped: Promise<OverlapReport> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      stopping = true;
      clearTimeout(timer);
      wake?.();
      await loop;
      return overlapReport(samples);
    })();
    return stopped;
  };
  return {
    report: () => overlapReport(samples),
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}
