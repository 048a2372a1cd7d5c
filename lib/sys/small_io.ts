/**
 * Synchronous work on powerconsul's own small local files (leases, takeover memory, the
 * metrics textfile, trigger state, role memory), handed over as a promise. Each is a few
 * hundred bytes on a local filesystem: Deno's async file calls go through a blocking thread
 * pool, and on a check's path that round trip cost more than the I/O itself (≈3.5 ms against
 * ≈1.3 ms for a lease write). The log files were already written this way (lib/log.ts).
 */

/** `fn`'s value as a resolved promise, or what it threw as a rejected one. */
export function syncIo<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e);
  }
}
