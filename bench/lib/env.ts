/**
 * The bench's world: a throwaway Consul cluster (server + two client nodes) on loopback, a
 * counting proxy (tests/harness/proxy.ts) and a timestamping proxy in front of each client agent,
 * per-run directories inside the CLI's sandbox paths, and an undo stack that removes all of it
 * even when the bench fails or is interrupted.
 *
 * @module
 */
import { join } from "node:path";
import { type AgentHandle, type ClusterHandle, startCluster } from "../../tests/harness/consul.ts";
import { type ProxyHandle, startProxy } from "../../tests/harness/proxy.ts";
import { type SandboxDirs, sandboxDirs } from "../../tests/harness/system.ts";
import { type StampProxy, startStampProxy } from "./stamp_proxy.ts";

export const REPO = join(import.meta.dirname!, "..", "..");
export const LAUNCHER = join(REPO, "scripts", "powerconsul");

/** A client node seen through its two proxies: process → stamp → count → agent. */
export interface Node {
  agent: AgentHandle;
  count: ProxyHandle;
  stamp: StampProxy;
  /** The address the CLI is given (--http-addr, POWERCONSUL_NET). */
  addr: string;
  /** deno.json's permission flags with `addr` added to the net allowlist. */
  flags: string[];
}

export interface World {
  cluster: ClusterHandle;
  n2: Node;
  n3: Node;
  dirs: SandboxDirs;
  tmp: string;
  deno: string;
  /** Register something to undo at the end (last in, first out). */
  defer(fn: () => Promise<unknown> | unknown): void;
  close(): Promise<void>;
}

async function bashOut(script: string, env: Record<string, string> = {}): Promise<string> {
  const out = await new Deno.Command("bash", {
    args: ["-c", script],
    env,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const dec = new TextDecoder();
  if (!out.success) throw new Error(`bash -c ${script}: ${dec.decode(out.stderr)}`);
  return dec.decode(out.stdout);
}

/** The permission flags the launcher uses (scripts/_deno.sh permission_flags) for `net`. */
export async function permissionFlags(net: string): Promise<string[]> {
  const out = await bashOut(`. '${REPO}/scripts/_deno.sh' && permission_flags`, {
    POWERCONSUL_NET: net,
  });
  return out.trim().split("\n");
}

export async function denoPath(): Promise<string> {
  return (await bashOut(`. '${REPO}/scripts/_deno.sh' && echo "$DENO"`)).trim();
}

export async function openWorld(): Promise<World> {
  const undo: (() => Promise<unknown> | unknown)[] = [];
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      while (undo.length) {
        try {
          await undo.pop()!();
        } catch {
          // keep undoing the rest
        }
      }
    })();
    return closing;
  };
  try {
    const tmp = join(REPO, ".tmp", `bench-${Deno.pid}`);
    await Deno.mkdir(tmp, { recursive: true });
    undo.push(() => Deno.remove(tmp, { recursive: true }));
    const dirs = await sandboxDirs("bench");
    undo.push(() => dirs.remove());
    const cluster = await startCluster({ clients: 2 });
    undo.push(() => cluster.close());
    const node = async (agent: AgentHandle): Promise<Node> => {
      const count = startProxy({ target: agent.httpAddr });
      undo.push(() => count.close());
      const stamp = startStampProxy(count.addr);
      undo.push(() => stamp.close());
      return { agent, count, stamp, addr: stamp.addr, flags: await permissionFlags(stamp.addr) };
    };
    const n2 = await node(cluster.agents[1]!);
    const n3 = await node(cluster.agents[2]!);
    return {
      cluster,
      n2,
      n3,
      dirs,
      tmp,
      deno: await denoPath(),
      defer: (fn) => void undo.push(fn),
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
