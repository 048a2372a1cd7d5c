/**
 * Real Consul agents on loopback for behaviour tests.
 *
 * Every cluster gets its own random loopback /24 (`127.a.b.0`) and its own port numbers, so test
 * files can run at the same time. All state lives under `<repo>/.tmp/harness/<clusterId>/`
 * (git-ignored): one directory per agent with `data/`, `config/` and `agent.log`.
 *
 * @module
 */

import dgram from "node:dgram";
import { join } from "node:path";

/** One running (or stopped) Consul agent started by the harness. */
export interface AgentHandle {
  /** Consul node name, e.g. `pcab12-server1`, `pcab12-node2` (the number is the IP's last octet). */
  name: string;
  /** Datacenter: `dc1` or `dc2`. */
  dc: string;
  /** `"server"` or `"client"`. */
  role: "server" | "client";
  /** Loopback address the agent binds to, `127.a.b.n`. */
  ip: string;
  /** `ip:httpPort`. */
  httpAddr: string;
  /** `http://ip:httpPort`. */
  url: string;
  /** The agent's `-config-dir`: write service/check/watch JSON here, then {@link AgentHandle.reload}. */
  configDir: string;
  /** The agent's own directory (holds `data/`, `config/`, `agent.log`). */
  dir: string;
  /** stdout + stderr of the agent process (appended across restarts). */
  logFile: string;
  /** Extra env the agent process was started with (script checks and watch handlers inherit it). */
  env: Record<string, string>;
  /** `consul reload` against this agent (with the ACL token if any); throws with the log tail on failure. */
  reload(): Promise<void>;
  /** SIGTERM, wait up to 10 s, then SIGKILL; resolves once the process has exited. */
  stop(): Promise<void>;
  /** SIGKILL; resolves once the process has exited. */
  kill(): Promise<void>;
  /**
   * Start again after stop/kill with the same dirs and flags. Resolves when the agent answers
   * `/v1/agent/self` and, for a server, its DC has a leader that has applied its raft log (reads
   * then see every write made before the restart); for a client whose DC server is
   * running, when the client and that server both list each other alive in their members.
   * Only waits if the agent is already running.
   */
  start(): Promise<void>;
  /** Whether the agent process is alive. */
  running(): boolean;
  /** Pid of the consul process while it runs (for signals such as SIGSTOP), else undefined. */
  readonly pid: number | undefined;
  /** Last `lines` lines (default 40) of the agent log. */
  logTail(lines?: number): string;
  /** `fetch(url + path)` with the ACL master token (if any, unless a token header is given) and a 5 s timeout. */
  api(path: string, init?: RequestInit): Promise<Response>;
}

/** A set of agents started together; dispose with `await using` or {@link ClusterHandle.close}. */
export interface ClusterHandle extends AsyncDisposable {
  /** Short random id (4 hex digits); part of every node name and of the cluster directory. */
  id: string;
  /** The cluster directory `<harnessRoot>/<id>`; removed by close(). */
  dir: string;
  /** Port numbers shared by every agent of the cluster (each agent has its own address). */
  ports: ClusterPorts;
  /** Servers first then clients, in order; for two DCs, the dc1 agents then the dc2 agents. */
  agents: AgentHandle[];
  /** The dc1 server. */
  server: AgentHandle;
  /** Comma list of every agent's `httpAddr` (for the CLI sandbox's extra net list). */
  netAllow: string;
  /** ACL master token (also the agents' agent token) when started with `acl: true`. */
  aclToken?: string;
  /** Kill every agent (and its child processes), then remove the cluster dir. Idempotent. */
  close(): Promise<void>;
}

/** Ports used by all agents of one cluster. */
export interface ClusterPorts {
  /** HTTP API (dns, grpc and https are disabled). */
  http: number;
  /** Serf LAN gossip (TCP and UDP); clients join `<dc server ip>:serfLan`. */
  serfLan: number;
  /** Serf WAN gossip (servers); dc2 joins `<dc1 server ip>:serfWan`. */
  serfWan: number;
  /** Server RPC (servers). */
  server: number;
}

/** Options for {@link startCluster}. */
export interface StartOptions {
  /** Client agents in dc1 (default 0). */
  clients?: number;
  /** Add a second datacenter `dc2` (one server + `clients` clients) joined to dc1 over WAN. */
  dc2?: { clients?: number };
  /** ACLs on with `default_policy = "deny"`; the master token is in `aclToken`. */
  acl?: boolean;
  /** `enable_script_checks` (default true; the agents only listen on loopback). */
  scriptChecks?: boolean;
  /** Extra env per agent process (on top of this process's env). */
  env?: (
    agent: { name: string; ip: string; httpAddr: string; dc: string },
  ) => Record<string, string>;
  /** Extra HCL snippets, each passed as one `-hcl` flag to every agent. */
  extraHcl?: string[];
  /**
   * Argv put in front of each agent's command line, asked again at every (re)start; the wrapper
   * must end by exec'ing its arguments (e.g. a shell that moves itself into a cgroup first).
   */
  launchPrefix?: (agent: LaunchInfo) => string[];
}

/** What {@link StartOptions.launchPrefix} is told about the agent being launched. */
export interface LaunchInfo {
  name: string;
  ip: string;
  dc: string;
  role: "server" | "client";
  /** The cluster's id ({@link ClusterHandle.id}). */
  clusterId: string;
}

/** Options for {@link waitFor}. */
export interface WaitOptions {
  /** Overall deadline (default 10 000 ms). */
  timeoutMs?: number;
  /** Pause between attempts (default 100 ms). */
  intervalMs?: number;
  /** Extra text appended to the timeout error (e.g. a log tail). */
  onTimeout?: () => string;
  /** Checked after each failed attempt: a non-empty string aborts the wait at once with it. */
  abortIf?: () => string | undefined;
}

const STARTUP_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;
const API_TIMEOUT_MS = 5_000;

const REPO_ROOT = join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..", "..");

/** `<repo>/.tmp/harness`: root of all harness state. */
export function harnessRoot(): string {
  return join(REPO_ROOT, ".tmp", "harness");
}

// ---------------------------------------------------------------------------------------------
// process hygiene

const liveChildren = new Set<Deno.ChildProcess>();

/** util-linux `setpriv`, used to tie each agent's life to this process (parent-death signal). */
const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});

globalThis.addEventListener("unload", () => {
  for (const child of liveChildren) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  liveChildren.clear();
});

interface ProcId {
  pid: number;
  start: string;
}

function procStat(pid: number): { ppid: number; start: string } | undefined {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const rest = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(rest[1]), start: rest[19] ?? "" };
  } catch {
    return undefined;
  }
}

function allPids(): number[] {
  const pids: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (/^\d+$/.test(e.name)) pids.push(Number(e.name));
  }
  return pids;
}

/** Every descendant of `root` (not `root` itself), with start times to guard against pid reuse. */
function descendants(root: number): ProcId[] {
  const children = new Map<number, ProcId[]>();
  for (const pid of allPids()) {
    const st = procStat(pid);
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push({ pid, start: st.start });
    children.set(st.ppid, list);
  }
  const out: ProcId[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const p = queue.shift()!;
    for (const c of children.get(p) ?? []) {
      out.push(c);
      queue.push(c.pid);
    }
  }
  return out;
}

function killIfSame(p: ProcId): void {
  if (procStat(p.pid)?.start !== p.start) return;
  try {
    Deno.kill(p.pid, "SIGKILL");
  } catch {
    // gone
  }
}

function cmdline(pid: number): string[] | undefined {
  try {
    const raw = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
    if (raw === "") return undefined;
    return raw.replace(/\0$/, "").split("\0");
  } catch {
    return undefined;
  }
}

/**
 * Pids of live `consul` processes whose command line contains the harness root (any cluster, any
 * test process), or only those of cluster `clusterId` when given. Zombies are not counted.
 */
export function liveHarnessProcesses(clusterId?: string): Promise<number[]> {
  const needle = clusterId === undefined
    ? harnessRoot() + "/"
    : join(harnessRoot(), clusterId) + "/";
  const found: number[] = [];
  for (const pid of allPids()) {
    const argv = cmdline(pid);
    if (!argv || !argv[0] || !/(^|\/)consul$/.test(argv[0])) continue;
    if (argv.join(" ").includes(needle)) found.push(pid);
  }
  return Promise.resolve(found);
}

/** Kill agents and remove directories left by harness runs whose owning process is gone. */
function pruneStale(): void {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(harnessRoot())];
  } catch {
    return;
  }
  for (const e of entries) {
    if (!e.isDirectory) continue;
    const dir = join(harnessRoot(), e.name);
    let stale = false;
    try {
      const owner = JSON.parse(Deno.readTextFileSync(join(dir, "owner.json"))) as ProcId;
      stale = procStat(owner.pid)?.start !== owner.start;
    } catch {
      // no owner file: stale only if old (a concurrent run may be creating it right now)
      try {
        const m = Deno.statSync(dir).mtime;
        stale = m !== null && Date.now() - m.getTime() > 120_000;
      } catch {
        stale = false;
      }
    }
    if (!stale) continue;
    for (const pid of allPids()) {
      const argv = cmdline(pid);
      if (argv && /(^|\/)consul$/.test(argv[0] ?? "") && argv.join(" ").includes(dir + "/")) {
        for (const d of descendants(pid)) killIfSame(d);
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    }
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // a process may still be exiting; the next run retries
    }
  }
}

// ---------------------------------------------------------------------------------------------
// waiting

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/**
 * Poll `fn` until it returns something other than `undefined`, `null` or `false`, and return that.
 * A throwing attempt counts as "not yet" (its message is reported on timeout). The deadline is
 * hard: an attempt still pending at the deadline is abandoned. On timeout throws
 * `Error("timed out after Xs waiting for <what>" + onTimeout())`.
 */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false>,
  opts: WaitOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  const timedOut = Symbol("timeout");
  while (true) {
    const left = deadline - Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const v = await Promise.race([
        fn(),
        new Promise<typeof timedOut>((resolve) => {
          timer = setTimeout(() => resolve(timedOut), Math.max(0, left));
        }),
      ]);
      if (v !== timedOut && v !== undefined && v !== null && v !== false) return v as T;
    } catch (e) {
      lastError = e;
    } finally {
      clearTimeout(timer);
    }
    const abort = opts.abortIf?.();
    if (abort) throw new Error(`gave up waiting for ${what}: ${abort}`);
    if (Date.now() >= deadline) {
      let msg = `timed out after ${timeoutMs / 1000}s waiting for ${what}`;
      if (lastError !== undefined) {
        msg += `\nlast error: ${
          lastError instanceof Error ? lastError.message : String(lastError)
        }`;
      }
      const extra = opts.onTimeout?.();
      if (extra) msg += /^\s/.test(extra) ? extra : `\n${extra}`;
      throw new Error(msg);
    }
    await sleep(Math.min(intervalMs, deadline - Date.now()));
  }
}

// ---------------------------------------------------------------------------------------------
// addresses and ports

function randInt(lo: number, hi: number): number {
  return lo + Math.floor(Math.random() * (hi - lo + 1));
}

function tcpFree(ip: string, port: number): boolean {
  try {
    Deno.listen({ hostname: ip, port }).close();
    return true;
  } catch {
    return false;
  }
}

function udpFree(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket("udp4");
    s.once("error", () => {
      try {
        s.close();
      } catch {
        // not bound
      }
      resolve(false);
    });
    s.bind(port, ip, () => s.close(() => resolve(true)));
  });
}

async function chooseNetwork(hosts: number): Promise<{ base: string; ports: ClusterPorts }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = `127.${randInt(10, 250)}.${randInt(1, 250)}.`;
    const first = `${base}1`;
    const held = [0, 1, 2, 3].map(() => Deno.listen({ hostname: first, port: 0 }));
    const nums = held.map((l) => (l.addr as Deno.NetAddr).port);
    for (const l of held) l.close();
    const ports: ClusterPorts = {
      http: nums[0]!,
      serfLan: nums[1]!,
      serfWan: nums[2]!,
      server: nums[3]!,
    };
    let ok = true;
    for (let h = 1; h <= hosts && ok; h++) {
      const ip = `${base}${h}`;
      for (const p of nums) ok &&= tcpFree(ip, p);
      for (const p of [ports.serfLan, ports.serfWan]) ok &&= await udpFree(ip, p);
    }
    if (ok) return { base, ports };
  }
  throw new Error("could not find a free loopback /24 and port set in 50 attempts");
}

// ---------------------------------------------------------------------------------------------
// agents

interface AgentSpec {
  name: string;
  dc: string;
  role: "server" | "client";
  ip: string;
  args: string[];
  env: Record<string, string>;
  launchPrefix?: (agent: LaunchInfo) => string[];
}

async function readJson(agent: AgentHandle, path: string): Promise<unknown> {
  const r = await agent.api(path);
  if (!r.ok) {
    const body = await r.text().catch(() => "");
    throw new Error(`GET ${agent.httpAddr}${path}: HTTP ${r.status} ${body.trim()}`);
  }
  return await r.json();
}

/** Copy a child's output stream into the (append-mode) log file as it arrives. */
async function pump(stream: ReadableStream<Uint8Array>, file: Deno.FsFile): Promise<void> {
  try {
    for await (const chunk of stream) {
      let off = 0;
      while (off < chunk.length) off += await file.write(chunk.subarray(off));
    }
  } catch {
    // the file or the stream went away: drop the rest
    await stream.cancel().catch(() => {});
  }
}

interface Member {
  Name: string;
  Status: number;
}

class Agent implements AgentHandle {
  readonly name: string;
  readonly dc: string;
  readonly role: "server" | "client";
  readonly ip: string;
  readonly httpAddr: string;
  readonly url: string;
  readonly dir: string;
  readonly configDir: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly env: Record<string, string>;
  readonly #args: string[];
  readonly #cluster: Cluster;
  readonly #launchPrefix: ((agent: LaunchInfo) => string[]) | undefined;
  #child: Deno.ChildProcess | undefined;
  #exited = true;
  #done: Promise<void> = Promise.resolve();
  #pipes: Promise<unknown> = Promise.resolve();

  constructor(cluster: Cluster, spec: AgentSpec, httpPort: number) {
    this.#cluster = cluster;
    this.name = spec.name;
    this.dc = spec.dc;
    this.role = spec.role;
    this.ip = spec.ip;
    this.httpAddr = `${spec.ip}:${httpPort}`;
    this.url = `http://${this.httpAddr}`;
    this.dir = join(cluster.dir, spec.name);
    this.configDir = join(this.dir, "config");
    this.dataDir = join(this.dir, "data");
    this.logFile = join(this.dir, "agent.log");
    this.env = spec.env;
    this.#launchPrefix = spec.launchPrefix;
    this.#args = [
      "agent",
      "-node",
      spec.name,
      "-datacenter",
      spec.dc,
      "-bind",
      spec.ip,
      "-client",
      spec.ip,
      "-data-dir",
      this.dataDir,
      "-config-dir",
      this.configDir,
      "-log-level",
      "debug",
      ...spec.args,
    ];
  }

  /** Spawn the process (no waiting). */
  async spawn(): Promise<void> {
    if (this.running()) return;
    await this.#done;
    await Deno.mkdir(this.dataDir, { recursive: true });
    await Deno.mkdir(this.configDir, { recursive: true });
    const log = await Deno.open(this.logFile, { append: true, create: true });
    let child: Deno.ChildProcess;
    try {
      // setpriv: the agent gets SIGKILL when this process dies, however it dies.
      const prefix = this.#launchPrefix?.({
        name: this.name,
        ip: this.ip,
        dc: this.dc,
        role: this.role,
        clusterId: this.#cluster.id,
      }) ?? [];
      const argv = [
        ...prefix,
        ...(SETPRIV ? [SETPRIV, "--pdeathsig", "KILL", "--", "consul"] : ["consul"]),
      ];
      child = new Deno.Command(argv[0]!, {
        args: [...argv.slice(1), ...this.#args],
        env: { ...Deno.env.toObject(), ...this.env },
        clearEnv: true,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (e) {
      log.close();
      throw e;
    }
    this.#child = child;
    this.#exited = false;
    liveChildren.add(child);
    // A hand-written pump: `pipeTo(file.writable)` held everything back until the stream ended.
    const pipes = Promise.all([pump(child.stdout, log), pump(child.stderr, log)]).finally(() => {
      try {
        log.close();
      } catch {
        // closed
      }
    });
    this.#pipes = pipes;
    this.#done = child.status.then(() => {
      this.#exited = true;
      liveChildren.delete(child);
    });
  }

  /** After the agent exited and its descendants were killed: let the log pumps finish (bounded). */
  async #drain(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#pipes,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 2_000);
      }),
    ]);
    clearTimeout(timer);
  }

  running(): boolean {
    return this.#child !== undefined && !this.#exited;
  }

  get pid(): number | undefined {
    return this.running() ? this.#child?.pid : undefined;
  }

  logTail(lines = 40): string {
    let text: string;
    try {
      const bytes = Deno.readFileSync(this.logFile);
      text = new TextDecoder().decode(bytes.subarray(Math.max(0, bytes.length - 256 * 1024)));
    } catch {
      return `(no log at ${this.logFile})`;
    }
    const all = text.replace(/\n$/, "").split("\n");
    return all.slice(-lines).join("\n");
  }

  /** Log tail formatted for error messages. */
  tailBlock(lines = 30): string {
    return `\n--- ${this.name} (${this.httpAddr}) ${this.logFile}, last ${lines} lines ---\n` +
      this.logTail(lines);
  }

  async api(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const token = this.#cluster.aclToken;
    if (token && !headers.has("X-Consul-Token") && !headers.has("Authorization")) {
      headers.set("X-Consul-Token", token);
    }
    const timeout = AbortSignal.timeout(API_TIMEOUT_MS);
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    return await fetch(this.url + path, { ...init, headers, signal });
  }

  async reload(): Promise<void> {
    const args = ["reload", `-http-addr=${this.url}`];
    if (this.#cluster.aclToken) args.push(`-token=${this.#cluster.aclToken}`);
    const env = Object.fromEntries(
      Object.entries(Deno.env.toObject()).filter(([k]) => !k.startsWith("CONSUL_")),
    );
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command("consul", {
        args,
        env,
        clearEnv: true,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(15_000),
      }).output();
    } catch (e) {
      throw new Error(`consul reload of ${this.name} failed: ${e}${this.tailBlock()}`);
    }
    if (!out.success) {
      const dec = new TextDecoder();
      throw new Error(
        `consul reload of ${this.name} exited ${out.code}: ${dec.decode(out.stdout)}${
          dec.decode(out.stderr)
        }${this.tailBlock()}`,
      );
    }
  }

  async kill(): Promise<void> {
    const child = this.#child;
    if (child && this.running()) {
      const tree = descendants(child.pid);
      try {
        child.kill("SIGKILL");
      } catch {
        // exited meanwhile
      }
      await this.#done;
      for (const p of tree) killIfSame(p);
    }
    await this.#done;
    await this.#drain();
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child && this.running()) {
      const tree = descendants(child.pid);
      try {
        child.kill("SIGTERM");
      } catch {
        // exited meanwhile
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const exited = await Promise.race([
        this.#done.then(() => true),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), STOP_GRACE_MS);
        }),
      ]);
      clearTimeout(timer);
      if (!exited) {
        try {
          child.kill("SIGKILL");
        } catch {
          // exited meanwhile
        }
      }
      await this.#done;
      for (const p of tree) killIfSame(p);
    }
    await this.#done;
    await this.#drain();
  }

  async start(): Promise<void> {
    await this.spawn();
    await this.waitSelf();
    if (this.role === "server") {
      await this.#cluster.waitLeader(this.dc);
    } else {
      const server = this.#cluster.agents.find((a) => a.dc === this.dc && a.role === "server");
      if (server?.running()) {
        await waitFor(
          `${this.name} and ${server.name} to see each other alive`,
          async () => {
            for (const [viewer, other] of [[this, server], [server, this]] as const) {
              const members = await readJson(viewer, "/v1/agent/members") as Member[];
              const alive = new Set(members.filter((m) => m.Status === 1).map((m) => m.Name));
              if (!alive.has(viewer.name) || !alive.has(other.name)) return false;
            }
            return true;
          },
          this.#waitOpts([this, server]),
        );
      }
    }
  }

  async waitSelf(): Promise<void> {
    await waitFor(`${this.name} to answer /v1/agent/self`, async () => {
      const r = await this.api("/v1/agent/self");
      await r.body?.cancel();
      return r.ok;
    }, this.#waitOpts([this]));
  }

  #waitOpts(agents: Agent[]): WaitOptions {
    return this.#cluster.waitOpts(agents);
  }
}

class Cluster implements ClusterHandle {
  readonly id: string;
  readonly dir: string;
  ports: ClusterPorts = { http: 0, serfLan: 0, serfWan: 0, server: 0 };
  agents: Agent[] = [];
  aclToken?: string;
  #closing: Promise<void> | undefined;

  constructor(id: string, dir: string) {
    this.id = id;
    this.dir = dir;
  }

  get server(): Agent {
    return this.agents[0]!;
  }

  get netAllow(): string {
    return this.agents.map((a) => a.httpAddr).join(",");
  }

  waitOpts(agents: Agent[]): WaitOptions {
    return {
      timeoutMs: STARTUP_TIMEOUT_MS,
      intervalMs: 100,
      onTimeout: () => agents.map((a) => a.tailBlock()).join(""),
      abortIf: () => {
        const dead = agents.find((a) => !a.running());
        return dead ? `agent ${dead.name} exited${dead.tailBlock()}` : undefined;
      },
    };
  }

  async waitLeader(dc: string): Promise<void> {
    const server = this.agents.find((a) => a.dc === dc && a.role === "server")!;
    await waitFor(`a leader in ${dc}`, async () => {
      const leader = await readJson(server, "/v1/status/leader");
      return typeof leader === "string" && leader !== "";
    }, this.waitOpts([server]));
    if (this.aclToken) {
      await waitFor(`ACLs to accept the master token in ${dc}`, async () => {
        const r = await server.api("/v1/acl/token/self");
        await r.body?.cancel();
        return r.ok;
      }, this.waitOpts([server]));
    }
    // A server names itself leader before it has applied its raft log: until its barrier is
    // through, a default-consistency read is served from a state store still replaying the log
    // (after a restart: empty, or the KV as of some earlier index). Consul answers a
    // `?consistent` read only once that barrier is through (it holds the read meanwhile, or
    // answers 500 "Not ready to serve consistent reads"), so one such read marks the state as
    // caught up.
    await waitFor(`the ${dc} leader to have applied its log (a ?consistent read)`, async () => {
      await readJson(server, "/v1/catalog/nodes?consistent");
      return true;
    }, this.waitOpts([server]));
  }

  /** Everything startCluster waits for once all processes are spawned. */
  async waitReady(): Promise<void> {
    for (const a of this.agents) await a.waitSelf();
    const dcs = [...new Set(this.agents.map((a) => a.dc))];
    for (const dc of dcs) await this.waitLeader(dc);
    for (const dc of dcs) {
      const inDc = this.agents.filter((a) => a.dc === dc);
      const names = inDc.map((a) => a.name);
      for (const a of inDc) {
        await waitFor(`${a.name} to see all ${dc} members alive`, async () => {
          const members = await readJson(a, "/v1/agent/members") as Member[];
          const alive = new Set(members.filter((m) => m.Status === 1).map((m) => m.Name));
          return names.every((n) => alive.has(n));
        }, this.waitOpts(inDc));
      }
      const server = inDc.find((a) => a.role === "server")!;
      await waitFor(`the ${dc} catalog to list every node with serfHealth passing`, async () => {
        const nodes = await readJson(server, "/v1/catalog/nodes") as { Node: string }[];
        const listed = new Set(nodes.map((n) => n.Node));
        if (!names.every((n) => listed.has(n))) return false;
        const checks = await readJson(server, "/v1/health/state/passing") as {
          Node: string;
          CheckID: string;
        }[];
        const healthy = new Set(
          checks.filter((c) => c.CheckID === "serfHealth").map((c) => c.Node),
        );
        return names.every((n) => healthy.has(n));
      }, this.waitOpts(inDc));
    }
    if (dcs.length > 1) {
      const dc1 = this.agents.filter((a) => a.dc === "dc1");
      const askers = [this.server, ...dc1.filter((a) => a.role === "client").slice(0, 1)];
      for (const a of askers) {
        await waitFor(
          `${a.name} to list ${dcs.join(", ")} in /v1/catalog/datacenters`,
          async () => {
            const list = await readJson(a, "/v1/catalog/datacenters") as string[];
            return dcs.every((d) => list.includes(d));
          },
          this.waitOpts(this.agents.filter((x) => x.role === "server")),
        );
      }
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all(this.agents.map((a) => a.kill()));
      stopLeaseGuards(this.agents.map((a) => a.name));
      for (let i = 0;; i++) {
        try {
          await Deno.remove(this.dir, { recursive: true });
          return;
        } catch (e) {
          if (e instanceof Deno.errors.NotFound) return;
          if (i >= 20) throw e;
          await sleep(100);
        }
      }
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * The lease guards (`powerconsul guard`) that `service <name> start` or a promote started for
 * this cluster's nodes, and their lease, marker, pid, takeover-state and role-memory files under
 * /run/powerconsul: a test's guard (or state) must not outlive its cluster. Files are named
 * `<service>@<node>`; the role memory is a directory per node.
 */
export function stopLeaseGuards(nodes: string[]): void {
  const mine = (file: string) => nodes.some((n) => file.replace(/\.pid$/, "").endsWith(`@${n}`));
  const dirOf = (d: string) => {
    try {
      return [...Deno.readDirSync(`/run/powerconsul/${d}`)].map((e) => e.name).filter(mine);
    } catch {
      return [];
    }
  };
  for (const f of dirOf("guard")) {
    const path = `/run/powerconsul/guard/${f}`;
    try {
      const pid = JSON.parse(Deno.readTextFileSync(path)).pid;
      Deno.removeSync(path);
      const argv = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
      if (typeof pid === "number" && pid > 1 && argv.includes("guard")) Deno.kill(pid, "SIGTERM");
    } catch {
      // gone already
    }
  }
  // the standbys' takeover memory is `<service>@<node>.json`
  const state = (() => {
    try {
      return [...Deno.readDirSync("/run/powerconsul/state")].map((e) => e.name)
        .filter((f) => f.endsWith(".json") && mine(f.slice(0, -".json".length)));
    } catch {
      return [];
    }
  })().map((f) => `state/${f}`);
  const files = [...["lease", "fenced"].flatMap((d) => dirOf(d).map((f) => `${d}/${f}`)), ...state];
  for (const f of files) {
    try {
      Deno.removeSync(`/run/powerconsul/${f}`);
    } catch {
      // gone already
    }
  }
  // the role hook's memory is a directory per node (lib/hooks.ts)
  for (const n of nodes) {
    try {
      Deno.removeSync(`/run/powerconsul/role/${n}`, { recursive: true });
    } catch {
      // none
    }
  }
}

function hex(n: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function createClusterDir(): Promise<Cluster> {
  await Deno.mkdir(harnessRoot(), { recursive: true });
  for (let i = 0; i < 100; i++) {
    const id = hex(2);
    const dir = join(harnessRoot(), id);
    try {
      await Deno.mkdir(dir);
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) continue;
      throw e;
    }
    const me = procStat(Deno.pid);
    await Deno.writeTextFile(
      join(dir, "owner.json"),
      JSON.stringify({ pid: Deno.pid, start: me?.start ?? "" }) + "\n",
    );
    return new Cluster(id, dir);
  }
  throw new Error(`could not create a unique cluster dir under ${harnessRoot()}`);
}

function hclString(s: string): string {
  return JSON.stringify(s);
}

async function startOnce(opts: StartOptions): Promise<Cluster> {
  const cluster = await createClusterDir();
  try {
    const dc1Clients = opts.clients ?? 0;
    const dc2Clients = opts.dc2 ? opts.dc2.clients ?? 0 : 0;
    const hosts = 1 + dc1Clients + (opts.dc2 ? 1 + dc2Clients : 0);
    const { base, ports } = await chooseNetwork(hosts);
    cluster.ports = ports;
    if (opts.acl) cluster.aclToken = crypto.randomUUID();

    const common: string[] = [
      "-retry-interval",
      "1s",
      "-hcl",
      `ports { http = ${ports.http}, https = -1, dns = -1, grpc = -1, serf_lan = ${ports.serfLan}, ` +
      `serf_wan = ${ports.serfWan}, server = ${ports.server} }`,
      "-hcl",
      "performance { raft_multiplier = 1 }",
      "-hcl",
      'check_update_interval = "0s"',
      "-hcl",
      "disable_update_check = true",
      "-hcl",
      "disable_host_node_id = true",
    ];
    if (opts.scriptChecks ?? true) common.push("-hcl", "enable_script_checks = true");

    const specs: AgentSpec[] = [];
    let host = 1;
    const addDc = (dc: string, clients: number) => {
      const serverIp = `${base}${host}`;
      const dcSpecs: { role: "server" | "client"; ip: string; n: number }[] = [
        { role: "server", ip: serverIp, n: host++ },
      ];
      for (let i = 0; i < clients; i++) {
        dcSpecs.push({ role: "client", ip: `${base}${host}`, n: host++ });
      }
      for (const s of dcSpecs) {
        const name = `pc${cluster.id}-${s.role === "server" ? "server" : "node"}${s.n}`;
        const args = [...common];
        if (cluster.aclToken) {
          const t = hclString(cluster.aclToken);
          args.push(
            "-hcl",
            'primary_datacenter = "dc1"',
            "-hcl",
            `acl { enabled = true, default_policy = "deny", down_policy = "extend-cache", ` +
              `enable_token_replication = ${dc !== "dc1"}, ` +
              `tokens { master = ${t}, agent = ${t}${
                dc !== "dc1" ? `, replication = ${t}` : ""
              } } }`,
          );
        }
        if (s.role === "server") {
          args.push("-server", "-bootstrap-expect", "1");
          if (dc !== "dc1") {
            args.push("-retry-interval-wan", "1s", "-retry-join-wan", `${base}1:${ports.serfWan}`);
          }
        } else {
          args.push("-retry-join", `${serverIp}:${ports.serfLan}`);
        }
        for (const h of opts.extraHcl ?? []) args.push("-hcl", h);
        const httpAddr = `${s.ip}:${ports.http}`;
        const env = opts.env?.({ name, ip: s.ip, httpAddr, dc }) ?? {};
        const spec: AgentSpec = { name, dc, role: s.role, ip: s.ip, args, env };
        if (opts.launchPrefix) spec.launchPrefix = opts.launchPrefix;
        specs.push(spec);
      }
    };
    addDc("dc1", dc1Clients);
    if (opts.dc2) addDc("dc2", dc2Clients);

    cluster.agents = specs.map((s) => new Agent(cluster, s, ports.http));
    for (const a of cluster.agents) await a.spawn();
    await cluster.waitReady();
    return cluster;
  } catch (e) {
    await cluster.close().catch(() => {});
    throw e;
  }
}

/**
 * Start a cluster and wait (bounded, 30 s per condition, agent log tails in the error) until it is
 * usable: every agent answers `/v1/agent/self`, each DC has a leader (accepting the ACL token, its log applied),
 * every agent sees all members of its DC alive, each DC's catalog lists all its nodes with
 * `serfHealth` passing, and with `dc2` both DCs are listed by `/v1/catalog/datacenters` in dc1.
 * Without options: one server, `dc1` (the "dev agent", but with a real data dir). On failure
 * everything started is torn down before the error is thrown; a port clash on startup is retried
 * with another address block.
 */
export async function startCluster(opts: StartOptions = {}): Promise<ClusterHandle> {
  pruneStale();
  for (let attempt = 1;; attempt++) {
    try {
      return await startOnce(opts);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (attempt < 3 && /address already in use/i.test(msg)) continue;
      throw e;
    }
  }
}
