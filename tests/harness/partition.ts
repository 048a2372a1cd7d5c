/**
 * Fault injection for behaviour tests: cut one agent of a harness cluster off the network, or
 * freeze it, and undo it.
 *
 * Design note.
 *
 * Mechanism: packet filtering on the loopback addresses the harness created, with every agent of
 * the cluster started inside its own cgroup v2 group (`pcpart-<tag>/<node>`, via the cluster's
 * `launchPrefix`). Filtering by address alone does not isolate an agent: the agents bind their
 * own `127.a.b.n`, but the TCP connections they dial (gossip push/pull and fallback probes,
 * client-to-server RPC) leave from 127.0.0.1, which every agent shares. The cgroup tells who sent
 * such a packet. A cut adds two chains in one atomic `iptables-restore`:
 *   - OUTPUT: a packet sent by the cut agent's cgroup to a peer's address, or by a peer's cgroup
 *     to the cut agent's address, sets a mark on its connection (conntrack) — nothing is dropped
 *     here, because a drop on OUTPUT makes `sendto` fail with EPERM and memberlist counts a local
 *     send error as "my problem", never suspecting the peer;
 *   - INPUT: packets of a marked connection, and packets between the cut agent's address and a
 *     peer's address (the UDP gossip leaves from the bound address), are dropped silently, so both
 *     sides see only silence, as in a real partition.
 * Only traffic between the cut agent and its peers (the other agents of its cluster, or only its
 * servers) is touched: the test process, the agent's own children (script checks, watch handlers)
 * and anything else can still reach the cut agent's HTTP API.
 *
 * Why not network namespaces: an agent in its own namespace needs a non-loopback address on a
 * veth, and reaching the cluster's 127.a.b.x servers from there works only with `route_localnet`
 * on both veth ends and the namespace's local 127/8 route replaced (tried: it connects). The cut
 * itself would still need a packet filter: this kernel has no tc drop actions (netem, gact), and
 * taking the link down or a blackhole route fails the sender's send locally, which memberlist
 * does not count against the peer; a downed link also cuts the test off the agent's HTTP API.
 * The cgroup marks keep the harness's one-/24-per-cluster plan and need no address of their own.
 *
 * Verified to bite by tests/e2e/partition_test.ts: during a full cut the servers mark the node's
 * `serfHealth` critical (the test fails if they don't within a bound) and the cut agent's catalog
 * reads fail while its `/v1/agent/*` endpoints answer; after heal `serfHealth` passes again.
 *
 * Clean-up: everything carries the prefix `pcpart-<tag>`, where the tag is per loaded copy of this
 * module, and an owner file `.tmp/partition/<tag>.json` (pid and start time) is written before
 * anything is created. `heal()` removes a cut's chains; `close()` (or `await using`) heals every
 * cut, thaws frozen agents and removes the cgroups; an unload hook does the same if the test
 * process exits; and the first use in a later process removes whatever a killed run left (owner
 * gone).
 *
 * @module
 */

import { join } from "node:path";
import type { AgentHandle, LaunchInfo } from "./consul.ts";
import { waitFor } from "./consul.ts";

/** Every chain, cgroup and owner file made here starts with this. */
export const PREFIX = "pcpart-";

/** What a cut isolates the agent from. */
export interface CutOptions {
  /**
   * `"all"`: every other agent of its cluster (a full partition): the servers mark the node's
   * `serfHealth` critical within seconds and the node loses its servers.
   *
   * `"servers"`: only the servers. The node still gossips with the other clients, and the
   * servers' indirect probes through those clients reach it, so its `serfHealth` usually STAYS
   * passing while none of its RPC gets through: its catalog reads fail, and the status changes of
   * its checks never reach the catalog (which keeps what it had before the cut). With no other
   * client in the cluster this is the same as `"all"`.
   */
  from: "all" | "servers";
}

/** A cut in force; `heal()` (idempotent) removes its rules. */
export interface CutHandle extends AsyncDisposable {
  /** Node name of the cut agent. */
  node: string;
  /** Node names of the agents it is cut from. */
  peers: string[];
  heal(): Promise<void>;
}

/** A frozen (SIGSTOPped) agent; `thaw()` (idempotent) sends SIGCONT. */
export interface FreezeHandle extends AsyncDisposable {
  node: string;
  thaw(): Promise<void>;
}

/** One test's fault injector; pass {@link PartitionHarness.launchPrefix} to `startCluster`. */
export interface PartitionHarness extends AsyncDisposable {
  /** Tag in every name this harness creates (`pcpart-<tag>…`). */
  tag: string;
  /** The `launchPrefix` start option: starts each agent inside its own cgroup. */
  launchPrefix: (agent: LaunchInfo) => string[];
  /** Cut `agent` off its peers (see {@link CutOptions}). */
  cut(agent: AgentHandle, opts: CutOptions): Promise<CutHandle>;
  /** SIGSTOP the agent process only (the services it started keep running). */
  freeze(agent: AgentHandle): Promise<FreezeHandle>;
  /** Heal every cut, thaw every frozen agent, kill what is left in the cgroups, remove them. */
  close(): Promise<void>;
}

interface Registered {
  name: string;
  ip: string;
  role: "server" | "client";
  clusterId: string;
  /** Path below the cgroup2 root, as `-m cgroup --path` wants it. */
  cgroupPath: string;
}

interface ProcId {
  pid: number;
  start: string;
}

/**
 * Owner files live in one directory per machine, like the cgroups and iptables chains they
 * vouch for: with one per checkout, a second checkout's sweep would find no owner for the first
 * one's live cut and remove it, killing its agents.
 */
const OWNER_DIR = "/run/pcpart-owners";
const CMD_TIMEOUT_MS = 15_000;

// ---------------------------------------------------------------------------------------------
// small sync helpers (the unload hook cannot await)

function procStart(pid: number): string | undefined {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return s.slice(s.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function runSyncPlain(cmd: string, args: string[], stdin?: string): { ok: boolean; text: string } {
  // Deno.Command.outputSync has no stdin: feed it through a file when needed.
  let file: string | undefined;
  let argv = args;
  if (stdin !== undefined) {
    file = Deno.makeTempFileSync({ prefix: PREFIX });
    Deno.writeTextFileSync(file, stdin);
    argv = [...args, file];
  }
  try {
    const out = new Deno.Command(cmd, { args: argv, stdout: "piped", stderr: "piped" })
      .outputSync();
    const dec = new TextDecoder();
    return { ok: out.success, text: (dec.decode(out.stdout) + dec.decode(out.stderr)).trim() };
  } catch (e) {
    return { ok: false, text: e instanceof Error ? e.message : String(e) };
  } finally {
    if (file) Deno.removeSync(file);
  }
}

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; text: string }> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(CMD_TIMEOUT_MS),
    }).output();
    const dec = new TextDecoder();
    return { ok: out.success, text: (dec.decode(out.stdout) + dec.decode(out.stderr)).trim() };
  } catch (e) {
    return { ok: false, text: e instanceof Error ? e.message : String(e) };
  }
}

/** Apply an `iptables-restore --noflush` batch (atomic: all or nothing). */
async function restore(lines: string[]): Promise<void> {
  const file = await Deno.makeTempFile({ prefix: PREFIX });
  try {
    await Deno.writeTextFile(file, ["*filter", ...lines, "COMMIT", ""].join("\n"));
    const r = await run("iptables-restore", ["-w", "5", "--noflush", file]);
    if (!r.ok) throw new Error(`iptables-restore failed: ${r.text}\n${lines.join("\n")}`);
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------
// cgroup v2

let cgroupRootCache: string | undefined;

/** Mount point of the cgroup v2 hierarchy (pure `/sys/fs/cgroup` or hybrid `…/unified`). */
export function cgroupRoot(): string {
  if (cgroupRootCache) return cgroupRootCache;
  for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!pre || !post || post.split(" ")[0] !== "cgroup2") continue;
    const mount = pre.split(" ")[4];
    if (mount) return (cgroupRootCache = mount.replace(/\\040/g, " "));
  }
  throw new Error("no cgroup v2 hierarchy is mounted (needed to tell agents' packets apart)");
}

function cgroupProcs(dir: string): number[] {
  try {
    return Deno.readTextFileSync(join(dir, "cgroup.procs")).split("\n").filter((l) => l !== "")
      .map(Number);
  } catch {
    return [];
  }
}

/** Kill everything inside `dir` (one cgroup level below it too) and remove the groups. */
function removeCgroupTree(dir: string): void {
  let kids: string[] = [];
  try {
    kids = [...Deno.readDirSync(dir)].filter((e) => e.isDirectory).map((e) => join(dir, e.name));
  } catch {
    return;
  }
  for (const g of [...kids, dir]) {
    for (let i = 0; i < 50; i++) {
      const procs = cgroupProcs(g);
      if (procs.length === 0) {
        try {
          Deno.removeSync(g);
        } catch (e) {
          if (e instanceof Deno.errors.NotFound) break;
          pause(20);
          continue;
        }
        break;
      }
      try {
        Deno.writeTextFileSync(join(g, "cgroup.kill"), "1");
      } catch {
        for (const pid of procs) {
          try {
            Deno.kill(pid, "SIGKILL");
          } catch {
            // gone
          }
        }
      }
      pause(20);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// iptables chains

/** Chains named `pcpart-…` in the filter table, and the INPUT/OUTPUT rules that jump to them. */
function listChains(): { chains: string[]; jumps: string[] } {
  const r = runSyncPlain("iptables", ["-w", "5", "-S"]);
  if (!r.ok) return { chains: [], jumps: [] };
  const chains: string[] = [];
  const jumps: string[] = [];
  for (const line of r.text.split("\n")) {
    const m = /^-N (pcpart-\S+)$/.exec(line);
    if (m) chains.push(m[1]!);
    if (/^-A (INPUT|OUTPUT) .*-j pcpart-\S+$/.test(line)) jumps.push(line);
  }
  return { chains, jumps };
}

/** Remove chains (and jumps to them) whose name `belongs` says to remove. Sync, best effort. */
function removeChainsSync(belongs: (chain: string) => boolean): void {
  const { chains, jumps } = listChains();
  const lines: string[] = [];
  for (const j of jumps) {
    const target = /-j (\S+)$/.exec(j)?.[1];
    if (target && belongs(target)) lines.push(j.replace(/^-A /, "-D "));
  }
  const mine = chains.filter(belongs);
  for (const c of mine) lines.push(`-F ${c}`);
  for (const c of mine) lines.push(`-X ${c}`);
  if (lines.length === 0) return;
  const batch = ["*filter", ...lines, "COMMIT", ""].join("\n");
  const r = runSyncPlain("iptables-restore", ["-w", "5", "--noflush"], batch);
  if (!r.ok) {
    // one at a time, ignoring what is already gone
    for (const l of lines) runSyncPlain("iptables", ["-w", "5", ...l.split(" ")]);
  }
}

// ---------------------------------------------------------------------------------------------
// ownership and stale sweep

// Eight hex digits: a six-digit tag is a copy of this module from before the owner directory was
// per machine, whose owner this copy cannot see (its own sweep looks after it).
const TAG_RE = /^pcpart-([0-9a-f]{8})(?:$|-)/;

function ownerAlive(tag: string): boolean {
  try {
    const o = JSON.parse(Deno.readTextFileSync(join(OWNER_DIR, `${PREFIX}${tag}.json`))) as ProcId;
    return procStart(o.pid) === o.start;
  } catch {
    return false;
  }
}

/** Remove every `pcpart-` chain, cgroup and owner file whose owning process is gone. */
export function sweepStale(): void {
  const dead = new Map<string, boolean>();
  const isDead = (name: string) => {
    const tag = TAG_RE.exec(name)?.[1];
    if (!tag) return false;
    if (!dead.has(tag)) dead.set(tag, !ownerAlive(tag));
    return dead.get(tag)!;
  };
  removeChainsSync(isDead);
  let root: string | undefined;
  try {
    root = cgroupRoot();
  } catch {
    root = undefined;
  }
  if (root) {
    try {
      for (const e of Deno.readDirSync(root)) {
        if (e.isDirectory && isDead(e.name)) removeCgroupTree(join(root, e.name));
      }
    } catch {
      // unreadable root: nothing of ours there
    }
  }
  try {
    for (const e of Deno.readDirSync(OWNER_DIR)) {
      const name = e.name.replace(/\.json$/, "");
      if (isDead(name)) Deno.removeSync(join(OWNER_DIR, e.name));
    }
  } catch {
    // no owner dir yet
  }
}

/** Names (`iptables` chains, cgroups) left by harness `tag`, or by any harness without a tag. */
export function leftovers(tag?: string): string[] {
  const want = (name: string) =>
    tag === undefined ? name.startsWith(PREFIX) : TAG_RE.exec(name)?.[1] === tag;
  const out: string[] = [];
  const { chains, jumps } = listChains();
  for (const c of chains) if (want(c)) out.push(`iptables chain ${c}`);
  for (const j of jumps) if (want(/-j (\S+)$/.exec(j)?.[1] ?? "")) out.push(`iptables rule ${j}`);
  try {
    for (const e of Deno.readDirSync(cgroupRoot())) {
      if (e.isDirectory && want(e.name)) out.push(`cgroup ${join(cgroupRoot(), e.name)}`);
    }
  } catch {
    // no cgroup2
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// the harness

const liveHarnesses = new Set<Harness>();

function closeAll(): void {
  for (const h of liveHarnesses) h.closeSync();
  liveHarnesses.clear();
}

globalThis.addEventListener("unload", closeAll);
// An uncaught error ends the process without "unload": clean up on the way out (unless someone
// handled the error, in which case the process goes on and so do the cuts).
globalThis.addEventListener("error", (e) => {
  if (!e.defaultPrevented) closeAll();
});
globalThis.addEventListener("unhandledrejection", (e) => {
  if (!e.defaultPrevented) closeAll();
});

function hex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

class Harness implements PartitionHarness {
  readonly tag: string;
  readonly #base: string;
  readonly #agents = new Map<string, Registered>();
  readonly #cuts = new Set<string>();
  readonly #frozen = new Map<number, string>();
  #cutCount = 0;
  #closed: Promise<void> | undefined;

  constructor(tag: string) {
    this.tag = tag;
    this.#base = `${PREFIX}${tag}`;
  }

  readonly launchPrefix = (agent: LaunchInfo): string[] => {
    if (this.#closed) throw new Error(`partition harness ${this.tag} is closed`);
    const cgroupPath = `${this.#base}/${agent.name}`;
    const dir = join(cgroupRoot(), cgroupPath);
    Deno.mkdirSync(dir, { recursive: true });
    this.#agents.set(agent.name, {
      name: agent.name,
      ip: agent.ip,
      role: agent.role,
      clusterId: agent.clusterId,
      cgroupPath,
    });
    // The shell moves itself into the group, then becomes the agent: every socket the agent and
    // its children open belongs to that group.
    return ["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', dir];
  };

  #registered(agent: AgentHandle): Registered {
    const r = this.#agents.get(agent.name);
    if (!r) {
      throw new Error(
        `${agent.name} was not started with this partition harness's launchPrefix`,
      );
    }
    return r;
  }

  async cut(agent: AgentHandle, opts: CutOptions): Promise<CutHandle> {
    const me = this.#registered(agent);
    const peers = [...this.#agents.values()].filter((a) =>
      a.clusterId === me.clusterId && a.name !== me.name &&
      (opts.from === "all" || a.role === "server")
    );
    if (peers.length === 0) throw new Error(`${me.name} has no peers to be cut from`);
    const n = ++this.#cutCount;
    const inChain = `${this.#base}-${n}i`;
    const outChain = `${this.#base}-${n}o`;
    // A mark of our own per cut: 0x7c in the top byte, 24 random bits.
    const mark = `0x7c${hex(3)}`;
    const lines = [`:${inChain} - [0:0]`, `:${outChain} - [0:0]`];
    for (const p of peers) {
      lines.push(
        `-A ${outChain} -d ${p.ip}/32 -m cgroup --path ${me.cgroupPath} -j CONNMARK --set-mark ${mark}`,
        `-A ${outChain} -d ${me.ip}/32 -m cgroup --path ${p.cgroupPath} -j CONNMARK --set-mark ${mark}`,
      );
    }
    lines.push(`-A ${inChain} -m connmark --mark ${mark} -j DROP`);
    for (const p of peers) {
      lines.push(
        `-A ${inChain} -s ${me.ip}/32 -d ${p.ip}/32 -j DROP`,
        `-A ${inChain} -s ${p.ip}/32 -d ${me.ip}/32 -j DROP`,
      );
    }
    lines.push(`-I INPUT 1 -j ${inChain}`, `-I OUTPUT 1 -j ${outChain}`);
    this.#cuts.add(inChain).add(outChain);
    try {
      await restore(lines);
    } catch (e) {
      this.#removeChains([inChain, outChain]);
      throw e;
    }
    let healed: Promise<void> | undefined;
    const heal = () => {
      healed ??= Promise.resolve().then(() => this.#removeChains([inChain, outChain]));
      return healed;
    };
    return {
      node: me.name,
      peers: peers.map((p) => p.name),
      heal,
      [Symbol.asyncDispose]: heal,
    };
  }

  #removeChains(chains: string[]): void {
    const set = new Set(chains);
    removeChainsSync((c) => set.has(c));
    for (const c of chains) this.#cuts.delete(c);
    const still = listChains().chains.filter((c) => set.has(c));
    if (still.length > 0) throw new Error(`could not remove iptables chains ${still.join(", ")}`);
  }

  freeze(agent: AgentHandle): Promise<FreezeHandle> {
    const pid = agent.pid;
    if (pid === undefined) return Promise.reject(new Error(`${agent.name} is not running`));
    const start = procStart(pid);
    Deno.kill(pid, "SIGSTOP");
    this.#frozen.set(pid, start ?? "");
    let thawed: Promise<void> | undefined;
    const thaw = () => {
      thawed ??= Promise.resolve().then(() => {
        this.#frozen.delete(pid);
        if (procStart(pid) === start) Deno.kill(pid, "SIGCONT");
      });
      return thawed;
    };
    return Promise.resolve({ node: agent.name, thaw, [Symbol.asyncDispose]: thaw });
  }

  /** Everything close() does, synchronously (for the unload hook). */
  closeSync(): void {
    for (const [pid, start] of this.#frozen) {
      if (procStart(pid) === start) {
        try {
          Deno.kill(pid, "SIGCONT");
        } catch {
          // gone
        }
      }
    }
    this.#frozen.clear();
    const base = this.#base;
    removeChainsSync((c) => c.startsWith(`${base}-`));
    this.#cuts.clear();
    try {
      removeCgroupTree(join(cgroupRoot(), base));
    } catch {
      // no cgroup2: nothing was made
    }
    try {
      Deno.removeSync(join(OWNER_DIR, `${base}.json`));
    } catch {
      // already gone
    }
    liveHarnesses.delete(this);
  }

  close(): Promise<void> {
    this.#closed ??= Promise.resolve().then(() => {
      this.closeSync();
      const left = leftovers(this.tag);
      if (left.length > 0) throw new Error(`partition harness left: ${left.join("; ")}`);
    });
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * A fault injector for one test. Checks that `iptables` and cgroup v2 are usable, removes what
 * killed runs left, and records its owner before it creates anything. Use with `await using`
 * declared BEFORE the cluster, so the cluster is closed first and this second.
 */
export async function partitionHarness(): Promise<PartitionHarness> {
  const probe = await run("iptables", ["-w", "5", "-S", "INPUT"]);
  if (!probe.ok) {
    throw new Error(`iptables is not usable (run scripts/setup.sh as root): ${probe.text}`);
  }
  cgroupRoot();
  sweepStale();
  const tag = hex(4);
  await Deno.mkdir(OWNER_DIR, { recursive: true });
  // written whole, then renamed: a concurrent sweep must never read a half-written owner
  const tmp = join(OWNER_DIR, `.tmp-${tag}`);
  await Deno.writeTextFile(
    tmp,
    JSON.stringify({ pid: Deno.pid, start: procStart(Deno.pid) ?? "" }) + "\n",
  );
  await Deno.rename(tmp, join(OWNER_DIR, `${PREFIX}${tag}.json`));
  const h = new Harness(tag);
  liveHarnesses.add(h);
  return h;
}

// ---------------------------------------------------------------------------------------------
// observing the effect

/** `serfHealth` status of `node` as `viewer` (normally a server) reports it, or "missing". */
export async function serfHealth(viewer: AgentHandle, node: string): Promise<string> {
  const r = await viewer.api(`/v1/health/node/${encodeURIComponent(node)}`);
  if (!r.ok) {
    const body = await r.text().catch(() => "");
    throw new Error(`GET /v1/health/node/${node} on ${viewer.name}: HTTP ${r.status} ${body}`);
  }
  const checks = await r.json() as { CheckID: string; Status: string }[];
  return checks.find((c) => c.CheckID === "serfHealth")?.Status ?? "missing";
}

/** Wait (bounded) until every one of `viewers` reports `node`'s `serfHealth` as `status`. */
export async function waitSerfHealth(
  viewers: AgentHandle[],
  node: string,
  status: "passing" | "critical",
  timeoutMs: number,
): Promise<void> {
  let seen: string[] = [];
  await waitFor(
    `${viewers.map((v) => v.name).join(", ")} to see ${node} serfHealth ${status}`,
    async () => {
      seen = await Promise.all(viewers.map((v) => serfHealth(v, node)));
      return seen.every((s) => s === status);
    },
    { timeoutMs, intervalMs: 200, onTimeout: () => `last seen: ${seen.join(", ")}` },
  );
}

/** Result of one catalog read through an agent. */
export interface ReachResult {
  /** The read succeeded (HTTP 2xx). */
  ok: boolean;
  /** `HTTP <status> <body>`, or the error (e.g. the 5 s timeout). */
  detail: string;
}

/** Read `/v1/catalog/nodes` through `agent` (which forwards it to a server). */
export async function catalogRead(agent: AgentHandle): Promise<ReachResult> {
  try {
    const r = await agent.api("/v1/catalog/nodes");
    const body = await r.text();
    return { ok: r.ok, detail: `HTTP ${r.status} ${body.trim().slice(0, 200)}` };
  } catch (e) {
    return { ok: false, detail: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}

/**
 * Wait (bounded) until a catalog read through `agent` fails with an HTTP 5xx from the agent itself
 * ("No known Consul servers", "rpc error …"): the agent is up but cannot reach a server. A read
 * that times out counts as "not yet". Returns that answer.
 */
export async function waitCutOff(agent: AgentHandle, timeoutMs: number): Promise<string> {
  let last = "";
  return await waitFor(`${agent.name} to answer catalog reads with a server error`, async () => {
    const res = await catalogRead(agent);
    last = res.detail;
    return !res.ok && /^HTTP 5\d\d/.test(res.detail) ? res.detail : false;
  }, { timeoutMs, intervalMs: 250, onTimeout: () => `last: ${last}` });
}

/** Wait (bounded) until catalog reads through `agent` work again. */
export async function waitReconnected(agent: AgentHandle, timeoutMs: number): Promise<void> {
  let last = "";
  await waitFor(`${agent.name}'s catalog reads to work again`, async () => {
    const res = await catalogRead(agent);
    last = res.detail;
    return res.ok;
  }, { timeoutMs, intervalMs: 250, onTimeout: () => `last: ${last}` });
}
