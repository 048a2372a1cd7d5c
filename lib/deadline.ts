/**
 * One deadline per command. Every Consul request and every program run takes what is left of
 * it (never more than its own timeout), so a slow agent or a slow probe cannot stretch a
 * command past the time its caller gives it (Consul kills a script check at its timeout).
 */
export class Deadline {
  readonly #at: number;
  readonly #now: () => number;
  /** `ms` from now; `now` is injectable for tests. */
  constructor(readonly totalMs: number, now: () => number = () => performance.now()) {
    this.#now = now;
    this.#at = now() + totalMs;
  }

  /** Milliseconds left (0 once passed). */
  remainingMs(): number {
    return Math.max(0, this.#at - this.#now());
  }

  expired(): boolean {
    return this.remainingMs() === 0;
  }

  /** A step's own timeout, cut to what is left. */
  cap(ms: number): number {
    return Math.min(ms, this.remainingMs());
  }

  /** An AbortSignal that fires when the deadline passes (for reads such as stdin). */
  signal(): AbortSignal {
    return AbortSignal.timeout(Math.max(1, Math.ceil(this.remainingMs())));
  }

  /** "25s" — for messages. */
  describe(): string {
    return `${Math.round(this.totalMs / 100) / 10}s`;
  }
}
