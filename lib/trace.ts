/**
 * Per-phase timestamps on a command's path (POWERCONSUL_TRACE=1): `mark(phase)` records when a
 * phase ended, in ms since the runtime's time origin, and main.ts prints them as one line on
 * stderr when the command is done. Off (the default), a mark is one comparison. The bench
 * (bench/checks.ts) reads the line to show where a check's time goes.
 */
const marks: [string, number, number][] = [];
let on = false;

/** Turn recording on (main.ts, from the environment). */
export function enableTrace(): void {
  on = true;
}

/** Record that `phase` ended now. */
export function mark(phase: string): void {
  if (on) marks.push([phase, performance.now(), Deno.memoryUsage().rss]);
}

/**
 * The trace line, or "" when off: `powerconsul trace: origin=<epoch ms> <phase>=<ms>/<MiB> …`,
 * each phase's end in ms since the time origin and the process's RSS then, in the order marked.
 */
export function traceLine(): string {
  if (!on) return "";
  const parts = marks.map(([p, t, rss]) => `${p}=${t.toFixed(2)}/${(rss / 1048576).toFixed(1)}`);
  return `powerconsul trace: origin=${performance.timeOrigin.toFixed(2)} ${parts.join(" ")}\n`;
}
