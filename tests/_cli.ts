/**
 * Run the CLI the way the agent does: through the dev launcher, under the compiled binary's
 * permission flags, with the harness's agent addresses added to the network allowlist by the
 * same variable an operator uses at build time (POWERCONSUL_NET).
 */
import { join } from "node:path";

export const REPO = join(import.meta.dirname!, "..");
export const LAUNCHER = join(REPO, "scripts", "powerconsul");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Comma list of host:port the sandbox may reach (ClusterHandle.netAllow). */
  net?: string;
  env?: Record<string, string>;
  stdin?: string;
  /** Deadline for the whole run (ms); a hung CLI fails the test instead of hanging it. */
  timeoutMs?: number;
}

export async function cli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const env: Record<string, string> = { ...opts.env };
  if (opts.net) env.POWERCONSUL_NET = opts.net;
  const child = new Deno.Command(LAUNCHER, {
    args,
    env,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin !== undefined) {
    // a command that exits before reading its stdin (a usage error) is not a test error: the
    // broken pipe is ignored and the exit code tells the story
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin)).catch(() => {});
    await w.close().catch(() => {});
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, opts.timeoutMs ?? 60_000);
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Parse the single JSON line a check prints. */
export function checkJson(r: CliResult): Record<string, unknown> {
  const line = r.stdout.trim().split("\n")[0] ?? "";
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`check printed no JSON line: stdout=${r.stdout} stderr=${r.stderr}`);
  }
}
