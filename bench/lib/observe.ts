/**
 * One measured run through a node's proxies: the process's wall, CPU and peak RSS, how many
 * Consul requests it made, and when the first one left and the last answer came back, relative
 * to the exec of the command.
 *
 * @module
 */
import type { Node, World } from "./env.ts";
import { epochOffset, measure, type Sample } from "./measure.ts";

export interface Observed extends Sample {
  requests: number;
  /** exec → first request byte at the proxy, ms (NaN without a request). */
  toFirstMs: number;
  /** exec → last answer byte back to the process. */
  toLastMs: number;
}

/** One measured run through a node's proxies. */
export async function observe(
  w: World,
  node: Node,
  argv: string[],
  env: Record<string, string> = {},
  stdin?: Uint8Array,
): Promise<Observed> {
  const before = node.count.requests;
  node.stamp.reset();
  const offset = epochOffset();
  const s = await measure({
    argv,
    env: { POWERCONSUL_NET: node.addr, ...env },
    ...(stdin ? { stdin } : {}),
  }, w.tmp);
  // the counting proxy counts as bytes arrive; the process has exited, so everything arrived
  const requests = node.count.requests - before;
  const first = node.stamp.firstRequestAt;
  const last = node.stamp.lastResponseAt;
  return {
    ...s,
    requests,
    toFirstMs: first === null ? NaN : first + offset - s.startEpochMs,
    toLastMs: last === null ? NaN : last + offset - s.startEpochMs,
  };
}
