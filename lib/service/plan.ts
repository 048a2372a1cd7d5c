/**
 * `powerconsul service <name> …` decided without I/O: whether an action may run on
 * this node's role, the ordered start/stop steps, the promote/demote flag keys and values, the
 * key-watch input a handler receives, and the start-primary swap. The I/O lives in
 * lib/service/actions.ts and lib/service/switch.ts.
 */
import type { ClusterDoc } from "../cluster/doc.ts";
import type { Decision, Placement } from "../cluster/role.ts";
import { b64decode } from "../consul/client.ts";
import { UsageError } from "../errors.ts";
import { kvPath, segment } from "../names.ts";
import { LOCK_DIR, type LockRecord } from "../sys/lockfile.ts";

export const ACTIONS = [
  "start",
  "stop",
  "restart",
  "status",
  "start-primary",
  "promote",
  "demote",
] as const;
export type Action = typeof ACTIONS[number];

export interface ServiceArgs {
  /** The wrapper's name (`/etc/init.d/<name>`); names the log file and the default lock file. */
  name: string;
  action: Action;
  consulService: string;
  /** Local services, in start order (stop runs them in reverse). */
  services: string[];
  /** Lock (noop) file the checks are given with -F; taken during restart and switches. */
  lockFile: string;
  /** Whether -F was given (the default path is used otherwise). */
  lockFileGiven: boolean;
  /** start-primary --abort */
  abort: boolean;
}

const NAME_RE = /^[A-Za-z0-9@._:+-]+$/;

/** Where the lock file lives when -F is not given (powerconsul's own directory, 0700). */
export function defaultLockFile(name: string): string {
  return `${LOCK_DIR}/${name}.lock`;
}

/** Validate the command line completely before anything talks to Consul. */
export function parseServiceArgs(
  positionals: string[],
  opts: { consulService?: string; services?: string; lockFile?: string; abort: boolean },
): ServiceArgs {
  const [name, action, extra] = positionals;
  if (!name) throw new UsageError(`missing service name: service <name> <${ACTIONS.join("|")}>`);
  segment("the service name", name);
  if (!NAME_RE.test(name)) throw new UsageError(`invalid service name "${name}"`);
  if (!action) throw new UsageError(`missing action: one of ${ACTIONS.join(", ")}`);
  if (!(ACTIONS as readonly string[]).includes(action)) {
    throw new UsageError(`unknown action "${action}": one of ${ACTIONS.join(", ")}`);
  }
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
  if (!opts.consulService) throw new UsageError("missing required option -S/--consulservice");
  segment("-S/--consulservice", opts.consulService);
  if (!NAME_RE.test(opts.consulService)) {
    throw new UsageError(`invalid Consul service name "${opts.consulService}"`);
  }
  let services = [name];
  if (opts.services !== undefined) {
    services = opts.services.split(",").map((s) => s.trim()).filter((s) => s);
    if (services.length === 0) throw new UsageError("-s/--service names no service");
  }
  for (const s of services) {
    segment("-s/--service", s);
    if (!NAME_RE.test(s)) throw new UsageError(`invalid service name "${s}"`);
  }
  if (new Set(services).size !== services.length) {
    throw new UsageError("-s/--service names a service twice");
  }
  if (opts.abort && action !== "start-primary") {
    throw new UsageError("--abort goes with start-primary only");
  }
  const lockFile = opts.lockFile || defaultLockFile(name);
  if (!lockFile.startsWith("/")) throw new UsageError("-F/--noopfile must be an absolute path");
  return {
    name,
    action: action as Action,
    consulService: opts.consulService,
    services,
    lockFile,
    lockFileGiven: Boolean(opts.lockFile),
    abort: opts.abort,
  };
}

// ---------------------------------------------------------------------------------------------
// role gates

export interface Gate {
  allowed: boolean;
  /** One line: why it is refused (with the hint), or why it may run. */
  reason: string;
}

/**
 * May `action` run on a node with this role?
 * - start/restart: where the resource should run — standalone, an active node, an all-active
 *   cluster, and a standby acting as primary (no active passing, document unlocked: the check
 *   expects it running too). A standby refuses and says how to promote.
 * - stop: on a standby (any standby state) and on a standalone node (nothing to protect); an
 *   active node and an all-active cluster refuse.
 */
export function gate(action: "start" | "stop" | "restart", name: string, d: Decision): Gate {
  const standalone = d.role === "standalone";
  const standby = d.role === "secondary";
  if (action === "start" || action === "restart") {
    if (d.expects) {
      return {
        allowed: true,
        reason: standalone
          ? "standalone (no cluster document)"
          : d.actingPrimary
          ? "standby acting as primary (no active instance passing)"
          : "this node is active",
      };
    }
    return {
      allowed: false,
      reason: `refused: this node is a standby (${d.reason}); ` +
        `run 'service ${name} start-primary' on this node to make it active`,
    };
  }
  if (standalone || standby) {
    return { allowed: true, reason: standalone ? "standalone (no cluster document)" : "standby" };
  }
  return {
    allowed: false,
    reason: `refused: this node is active (${d.reason}); ` +
      `run 'service ${name} start-primary' on a standby node to make it active, then stop here`,
  };
}

// ---------------------------------------------------------------------------------------------
// start/stop steps

export interface LocalState {
  name: string;
  /** null: the state could not be read (the error is in `detail`). */
  running: boolean | null;
  detail: string;
}

export type Step =
  | { service: string; op: "start" | "stop" }
  | { service: string; op: "skip"; line: string };

/**
 * Steps to bring local services to `want`: start in the given order, stop in reverse. A service
 * already in the wanted state is a `skip` with its line (`already running`/`already stopped`).
 * A service whose state could not be read is acted on anyway: start and stop are idempotent for
 * LSB scripts and systemd, and refusing would leave the node half switched.
 */
export function planSteps(want: "start" | "stop", states: LocalState[]): Step[] {
  const ordered = want === "start" ? states : [...states].reverse();
  return ordered.map((s) => {
    if (want === "start" && s.running === true) {
      return { service: s.name, op: "skip", line: `${s.name}: already running` };
    }
    if (want === "stop" && s.running === false) {
      return { service: s.name, op: "skip", line: `${s.name}: already stopped` };
    }
    return { service: s.name, op: want };
  });
}

/** `<svc>: starting… ok` / `<svc>: stopping… FAILED (exit 1: …)`. */
export function stepLine(
  service: string,
  op: "start" | "stop",
  ok: boolean,
  failure?: string,
): string {
  const verb = op === "start" ? "starting…" : "stopping…";
  return `${service}: ${verb} ${ok ? "ok" : `FAILED (${failure ?? "unknown error"})`}`;
}

// ---------------------------------------------------------------------------------------------
// promote/demote flags

export type FlagKind = "promote" | "demote";
/** Flag values. FAILED is ours: a node that cannot do its part says so instead of going quiet. */
export type FlagValue = "NULL" | "START" | "WAIT" | "FAILED";

export function flagPrefix(servicePrefix: string, consulService: string): string {
  return `${kvPath(servicePrefix, ["the Consul service", consulService])}/`;
}

export function flagKey(
  servicePrefix: string,
  consulService: string,
  node: string,
  kind: FlagKind,
): string {
  return kvPath(servicePrefix, ["the Consul service", consulService], ["the node name", node]) +
    `/${kind}`;
}

/** Key of the switch lock (a Consul session lock) held while start-primary runs. */
export function switchKey(servicePrefix: string, consulService: string): string {
  return `${flagPrefix(servicePrefix, consulService)}.switch`;
}

/** A stored flag value: missing, empty or anything unexpected counts as NULL. */
export function normaliseFlag(v: string | null | undefined): FlagValue {
  const t = (v ?? "").trim().toUpperCase();
  if (t === "START" || t === "WAIT" || t === "FAILED") return t;
  return "NULL";
}

/** The node and kind of a switch key under `prefix` (`<node>/promote|demote`), or null. */
export function parseFlagKey(prefix: string, key: string): { node: string; kind: FlagKind } | null {
  if (!key.startsWith(prefix)) return null;
  const m = /^([^/]+)\/(promote|demote)$/.exec(key.slice(prefix.length));
  return m ? { node: m[1]!, kind: m[2] as FlagKind } : null;
}

/** The holder a switch lock's value names (written by the initiator), or null when garbled. */
export function parseSwitchHolder(
  value: string | null | undefined,
): { action: string; node: string; pid: number | null; at: string } | null {
  try {
    const h = JSON.parse(value ?? "");
    if (typeof h !== "object" || h === null || typeof h.node !== "string") return null;
    return {
      action: typeof h.action === "string" ? h.action : "start-primary",
      node: h.node,
      pid: typeof h.pid === "number" ? h.pid : null,
      at: typeof h.at === "string" ? h.at : "?",
    };
  } catch {
    return null;
  }
}

/** Flags of one service read from a key list: node → {promote, demote}. */
export function flagsFromEntries(
  prefix: string,
  entries: { key: string; value: string | null; modifyIndex: number }[],
): Map<string, { promote?: FlagValue; demote?: FlagValue }> {
  const out = new Map<string, { promote?: FlagValue; demote?: FlagValue }>();
  for (const e of entries) {
    if (!e.key.startsWith(prefix)) continue;
    const k = parseFlagKey(prefix, e.key);
    if (!k) continue;
    const cur = out.get(k.node) ?? {};
    cur[k.kind] = normaliseFlag(e.value);
    out.set(k.node, cur);
  }
  return out;
}

export interface FlagInput {
  /** The key the watch is on, when the input named one. */
  key: string | null;
  value: FlagValue;
}

/**
 * A `key` watch handler's stdin: the KV object (`{"Key":…,"Value":"<base64>"}`) or `null` for a
 * missing key (Consul sends the word null). Returns null for empty input (run by hand: read KV).
 */
export function parseFlagInput(text: string): FlagInput | null {
  const t = text.trim();
  if (t === "") return null;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    throw new UsageError("stdin is not a Consul key watch's JSON (expected an object or null)");
  }
  if (v === null) return { key: null, value: "NULL" };
  if (
    typeof v !== "object" || Array.isArray(v) || typeof (v as { Key?: unknown }).Key !== "string"
  ) {
    throw new UsageError(
      "stdin is not a Consul key watch's JSON (an object with Key and Value, or null); " +
        'configure the watch with type "key"',
    );
  }
  const o = v as { Key: string; Value?: string | null };
  let value: string | null = null;
  if (typeof o.Value === "string" && o.Value !== "") {
    try {
      value = b64decode(o.Value);
    } catch {
      throw new UsageError(`stdin: the Value of ${o.Key} is not base64`);
    }
  }
  return { key: o.Key, value: normaliseFlag(value) };
}

// ---------------------------------------------------------------------------------------------
// start-primary

/** A node taking part in a switch, with the datacenter whose KV its key watch reads. */
export interface Participant {
  node: string;
  kind: FlagKind;
  datacenter: string;
}

export interface SwitchPlan {
  mode: "nodes" | "datacenters";
  /** Filter pattern of the group being switched, for filter documents. */
  pattern?: string;
  /** Nodes to promote (today's standbys) and to demote (today's actives). */
  promote: string[];
  demote: string[];
  /** Every flag to set to START and wait for, demotes first. */
  participants: Participant[];
  /** Datacenters whose KV holds participants' flags. */
  datacenters: string[];
  /** The document to write (roles swapped, `"lock": true`). */
  next: Record<string, unknown>;
}

type Swap = (
  pattern: string | undefined,
  roles: { active: string[]; standby: string[] } | { activeDc: string; standbyDc: string },
) => Record<string, unknown>;

/**
 * What start-primary switches, run on `node` with `placement`:
 * - node-level documents (plain or a filter group) swap their lists: every standby of the group
 *   becomes active and every active a standby, as the -U flip does;
 * - datacenter-level documents swap the two datacenters: the nodes with an instance of the
 *   service in the active datacenter demote, those in the standby datacenter promote.
 * `instances` are the service's instances in every datacenter (serviceFilter applied); a flag
 * lives in the KV of its node's datacenter (KV is not replicated), `localDc` when the node has
 * no instance. Refused (a sentence) for anything else.
 */
export function planSwitch(
  doc: ClusterDoc | null,
  placement: Placement,
  node: string,
  swap: Swap,
  instances: { node: string; datacenter: string }[] = [],
  localDc = "",
): SwitchPlan | string {
  if (doc === null || placement.kind === "standalone") {
    return "no cluster document for this service: it is standalone, nothing to switch";
  }
  if (placement.kind === "all-active") {
    return "the cluster document makes every node active: nothing to switch";
  }
  if (placement.kind === "active") {
    return placement.mode === "datacenters"
      ? `this node's datacenter is already active`
      : `${node} is already active`;
  }
  if (placement.lock) {
    return "the cluster document is locked: a switch is under way or has not been confirmed " +
      "yet (the lock clears when a standby check sees the new actives passing); see " +
      "'powerconsul status'";
  }
  const dcOf = (n: string) => instances.find((i) => i.node === n)?.datacenter ?? localDc;
  const spec = placement.group.spec;
  let promote: string[];
  let demote: string[];
  let next: Record<string, unknown>;
  let where: (n: string) => string = dcOf;
  if (spec.mode === "nodes") {
    promote = [...spec.standby];
    demote = [...spec.active];
    next = swap(placement.pattern, { active: promote, standby: demote });
  } else if (spec.mode === "datacenters") {
    const inDc = (dc: string) => [
      ...new Set(instances.filter((i) => i.datacenter === dc).map((i) => i.node)),
    ];
    promote = inDc(spec.standby);
    demote = inDc(spec.active);
    if (promote.length === 0) {
      return `no instance of the service in the standby datacenter ${spec.standby}: ` +
        "nothing to promote";
    }
    next = swap(placement.pattern, { activeDc: spec.standby, standbyDc: spec.active });
    where = (n) => promote.includes(n) ? spec.standby : spec.active;
  } else {
    return "not a document with roles";
  }
  const participants: Participant[] = [
    ...demote.map((n) => ({ node: n, kind: "demote" as const, datacenter: where(n) })),
    ...promote.map((n) => ({ node: n, kind: "promote" as const, datacenter: where(n) })),
  ];
  const plan: SwitchPlan = {
    mode: spec.mode,
    promote,
    demote,
    participants,
    datacenters: [...new Set(participants.map((p) => p.datacenter))],
    next,
  };
  if (placement.pattern !== undefined) plan.pattern = placement.pattern;
  return plan;
}

/** Which of the expected flags have not answered WAIT yet (FAILED ones listed apart). */
export function pendingFlags(
  expected: { node: string; kind: FlagKind }[],
  flags: Map<string, { promote?: FlagValue; demote?: FlagValue }>,
): { waiting: { node: string; kind: FlagKind }[]; failed: { node: string; kind: FlagKind }[] } {
  const waiting: { node: string; kind: FlagKind }[] = [];
  const failed: { node: string; kind: FlagKind }[] = [];
  for (const e of expected) {
    const v = flags.get(e.node)?.[e.kind] ?? "NULL";
    if (v === "FAILED") failed.push(e);
    else if (v !== "WAIT") waiting.push(e);
  }
  return { waiting, failed };
}

/** What a promote/demote handler does for a flag value (the lock file tells whether it took part). */
export type HandlerPlan =
  | { op: "prepare" }
  | { op: "finish"; lock: LockRecord }
  | { op: "nothing"; why: string };

export function planHandler(
  kind: FlagKind,
  value: FlagValue,
  lock: LockRecord | null,
  consulService: string,
): HandlerPlan {
  if (value === "START") return { op: "prepare" };
  if (value === "WAIT") {
    return { op: "nothing", why: `${kind} flag is WAIT: this node has answered` };
  }
  if (value === "FAILED") {
    return { op: "nothing", why: `${kind} flag is FAILED: waiting for start-primary --abort` };
  }
  if (lock && lock.action === kind && lock.consulService === consulService) {
    return { op: "finish", lock };
  }
  return { op: "nothing", why: `${kind} flag is NULL and this node holds no ${kind} lock: idle` };
}
