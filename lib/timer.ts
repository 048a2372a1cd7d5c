/**
 * The timer the hot path uses for its timeouts (a request, a child's run). Deno's global
 * setTimeout loads its Node-compatible timer layer on first use — ≈5 ms and 4 MiB of one check
 * process, seen in the bench's trace (POWERCONSUL_TRACE=1, lib/trace.ts) — while
 * AbortSignal.timeout does not. Deno keeps the process alive for such a signal only while it has
 * an abort listener, so cancel() removes the listener: a cancelled timer holds nothing.
 */
export interface Timer {
  /** Resolves when the time is up, or at once on cancel(). */
  done: Promise<void>;
  /** Aborted (reason: a TimeoutError) when the time is up; never by cancel(). */
  signal: AbortSignal;
  /** Settle `done` now and let go of the timer (it no longer keeps the process alive). */
  cancel(): void;
}

export function timer(ms: number): Timer {
  const signal = AbortSignal.timeout(Math.max(0, Math.ceil(ms)));
  let settle!: () => void;
  const done = new Promise<void>((r) => {
    settle = r;
  });
  const onAbort = () => settle();
  signal.addEventListener("abort", onAbort, { once: true });
  return {
    done,
    signal,
    cancel: () => {
      signal.removeEventListener("abort", onAbort);
      settle();
    },
  };
}
