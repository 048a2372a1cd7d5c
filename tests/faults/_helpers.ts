/** Helpers shared by the fault, race, fuzz and security tests. */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { AgentHandle, ClusterHandle } from "../harness/consul.ts";
import { cli, type CliOptions, type CliResult } from "../_cli.ts";
import { crashLine } from "./_results.ts";

export interface RunOpts {
  stdin?: string;
  env?: Record<string, string>;
  /** Extra host:port the sandbox may reach (a proxy in front of the agent). */
  net?: string;
  timeoutMs?: number;
}

export interface Timed extends CliResult {
  ms: number;
}

/** The CLI (tests/_cli.ts cli(), same launcher and sandbox) against `addr`, with `config`, timed. */
export function cliAt(cluster: ClusterHandle, addr: string, config: string) {
  return async (args: string[], o: RunOpts = {}): Promise<Timed> => {
    const t0 = performance.now();
    const opts: CliOptions = {
      net: o.net ? `${cluster.netAllow},${o.net}` : cluster.netAllow,
      env: { CONSUL_HTTP_ADDR: addr, ...o.env },
    };
    if (o.stdin !== undefined) opts.stdin = o.stdin;
    if (o.timeoutMs !== undefined) opts.timeoutMs = o.timeoutMs;
    const r = await cli([...args, "--config", config], opts);
    return { ...r, ms: performance.now() - t0 };
  };
}

export function show(r: CliResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

/** stderr lines that are not warnings (`powerconsul: warning: …`). */
export function errorLines(r: CliResult): string[] {
  return r.stderr.split("\n").filter((l) => l.trim() !== "" && !/^powerconsul: warning: /.test(l));
}

/** No stack frame, no uncaught-error banner, anywhere in the output. */
export function assertNoCrash(r: CliResult) {
  const bad = crashLine(r.stdout) ?? crashLine(r.stderr);
  assert.equal(bad, undefined, `crash output: ${bad}\n${show(r)}`);
}

/**
 * A check's answer when the state is unknown: exit 3, exactly one JSON line on stdout whose
 * state is unknown and whose one-line message matches `re`, nothing but warnings on stderr.
 */
export function assertCheckUnknown(r: CliResult, re: RegExp): Record<string, unknown> {
  assertNoCrash(r);
  assert.equal(r.code, 3, show(r));
  const lines = r.stdout.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line on stdout\n${show(r)}`);
  const j = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(j.state, "unknown", show(r));
  assert.match(String(j.message), re, show(r));
  assert.ok(!String(j.message).includes("\n"));
  assert.deepEqual(errorLines(r), [], show(r));
  return j;
}

/** Any other command failing on unknown state: the code, and exactly one error line on stderr. */
export function assertOneError(r: CliResult, code: number, re: RegExp) {
  assertNoCrash(r);
  assert.equal(r.code, code, show(r));
  const lines = errorLines(r);
  assert.equal(lines.length, 1, `one error line on stderr\n${show(r)}`);
  assert.match(lines[0]!, re, show(r));
}

/** The KV table's index as the agent reports it: any KV write anywhere moves it. */
export async function kvIndex(a: AgentHandle): Promise<number> {
  const r = await a.api("/v1/kv/?recurse");
  await r.body?.cancel();
  const idx = Number(r.headers.get("X-Consul-Index"));
  assert.ok(idx > 0, `X-Consul-Index from ${a.name}: ${r.status}`);
  return idx;
}

/** TTL check state with a note (a critical check with empty output counts as "not run yet"). */
export async function ttl(a: AgentHandle, id: string, state: "pass" | "fail" | "warn") {
  const r = await a.api(`/v1/agent/check/${state}/${id}?note=fault-${state}`, { method: "PUT" });
  assert.ok(r.ok, `ttl ${state} ${id} on ${a.name}: HTTP ${r.status}`);
  await r.body?.cancel();
}

export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Names in a directory (empty when it does not exist). */
export async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) out.push(e.name);
  } catch {
    // missing
  }
  return out.sort();
}

/** Every path under `dir`, recursively. */
export async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    let entries: Deno.DirEntry[] = [];
    try {
      entries = await Array.fromAsync(Deno.readDir(d));
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      out.push(p);
      if (e.isDirectory) await walk(p);
    }
  };
  await walk(dir);
  return out.sort();
}

/** Run `fn` over `items`, `n` at a time, results in order. */
export async function pool<T, R>(items: T[], n: number, fn: (t: T, i: number) => Promise<R>) {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

/** A health check as a checks watch passes it. */
export function healthCheck(
  node: string,
  service = "web",
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    Node: node,
    CheckID: `${service}-ttl`,
    Name: `${service} ttl`,
    Status: "critical",
    Output: "fault-fail",
    ServiceID: service,
    ServiceName: service,
    ...extra,
  };
}

/** Run a program, return its exit code and output (for mount, dd, …). */
export async function sh(argv: string[]): Promise<{ code: number; out: string }> {
  const o = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(20_000),
  }).output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

/** Pids whose argv[0] is exactly `name` (via /proc; the tests run as root). */
export function pidsNamed(name: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const a0 = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0")[0];
      if (a0 === name) out.push(Number(e.name));
    } catch {
      // gone
    }
  }
  return out;
}
