/**
 * The watch handler's input, all pure but the stdin read: validate the whole payload a
 * Consul checks watch sends, and keep this node's service checks in the watched state.
 */
import type { Ctx } from "../context.ts";
import { type HealthCheck, InputError, parseHealthCheck } from "./plan.ts";

/**
 * The payload on stdin, read within twice the request timeout and never past the command's
 * deadline: Consul writes the whole payload at once and closes the pipe, so a payload that
 * never ends is an InputError (nothing is fired), never a handler that hangs (Consul gives
 * handlers no timeout, and a waiting handler holds up its watch).
 */
export async function readPayload(
  ctx: Pick<Ctx, "io" | "deadline"> & { config: { httpTimeout: number } },
): Promise<string | null> {
  const ms = Math.max(1, Math.ceil(ctx.deadline.cap(2 * ctx.config.httpTimeout * 1000)));
  const signal = AbortSignal.timeout(ms);
  try {
    return await ctx.io.readStdin({ signal });
  } catch (e) {
    if (!signal.aborted) throw new InputError(`cannot read stdin: ${(e as Error).message}`);
    throw new InputError(
      `stdin did not end within ${Math.round(ms / 100) / 10}s: expected the JSON array a Consul ` +
        `checks watch sends (and then end of input)`,
    );
  }
}

/**
 * Parse and validate the whole payload (pure). Any malformed entry rejects the payload: a
 * half-understood list is not acted on. Throws InputError with one clear sentence.
 */
export function parseWatchInput(text: string | null): HealthCheck[] {
  if (text === null) {
    throw new InputError(
      "stdin is a terminal: 'watch' reads the JSON a Consul checks watch sends; run it as the " +
        "watch's handler, or pipe a payload in",
    );
  }
  if (text.trim() === "") {
    throw new InputError("stdin is empty: expected the JSON array a Consul checks watch sends");
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new InputError(`stdin is not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(raw)) {
    const what = raw === null
      ? "null (a key watch's payload?)"
      : typeof raw === "object"
      ? "an object"
      : `a ${typeof raw}`;
    throw new InputError(
      `stdin must be a JSON array of health checks (a "checks" watch), got ${what}`,
    );
  }
  const out = new Array<HealthCheck>(raw.length);
  for (let i = 0; i < raw.length; i++) {
    out[i] = parseHealthCheck(raw[i], `entry ${i} of ${raw.length}`);
  }
  return out;
}

export interface Selection {
  fire: HealthCheck[];
  /** Local service checks in the state whose Output is still empty. */
  unrun: number;
  /** Local node checks (no service). */
  nodeChecks: number;
  /** Local checks in another state. */
  otherState: number;
}

/** This node's service checks in `state` with output (pure; one pass, node compared first). */
export function selectLocal(checks: HealthCheck[], node: string, state: string): Selection {
  const s: Selection = { fire: [], unrun: 0, nodeChecks: 0, otherState: 0 };
  for (const c of checks) {
    if (c.Node !== node) continue;
    if (c.Status !== state) s.otherState++;
    else if (c.ServiceName === "") s.nodeChecks++;
    else if (c.Output === "") s.unrun++;
    else s.fire.push(c);
  }
  return s;
}

export async function pool<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}
