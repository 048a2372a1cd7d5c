/**
 * One trigger, in process: used by `powerconsul trigger` and, once per local entry, by
 * `powerconsul watch`. Steps: role (SPEC §5, a secondary whose actives are down acts as primary
 * unless the document is locked) → KV action → restart-storm protection → run → log.
 *
 * The facts come from a TriggerSource: the live agent, or a `consul kv export` snapshot for
 * offline testing. Both feed the same pure planner and renderer, so an offline plan reads
 * exactly like the live one for the same data.
 */
import { join } from "../paths.ts";
import type { Config } from "../config.ts";
import type { ConsulClient } from "../consul/client.ts";
import { b64decode } from "../consul/client.ts";
import { dropRunPermission } from "../context.ts";
import { parseClusterDoc } from "../cluster/doc.ts";
import { clusterKeyFor, IdentityCache, resolveCluster } from "../cluster/resolve.ts";
import {
  type ActiveInstance,
  decide,
  type Decision,
  place,
  type Placement,
} from "../cluster/role.ts";
import { describeError, UsageError } from "../errors.ts";
import { Exit } from "../exit_codes.ts";
import { describeRun, type Runner } from "../sys/runner.ts";
import {
  buildPlan,
  describeAction,
  type HealthCheck,
  InputError,
  planJson,
  type RenderOptions,
  renderPlan,
  triggerKey,
  type TriggerPlan,
  type TriggerRole,
  type TriggerState,
} from "./plan.ts";
import { keyName, type LimitKey, STATE_FILE, TriggerLimiter, type Verdict } from "./limit.ts";
import { actionExitCode, executeAction, SCRIPT_DIR } from "./run.ts";

/** The logging surface fire() needs (Logger fits; dry-run passes one that writes nothing). */
export interface Log {
  debug(m: string): void;
  info(m: string): void;
  warn(m: string): void;
  error(m: string): void;
}

export const nullLog: Log = { debug() {}, info() {}, warn() {}, error() {} };

export interface RoleFacts {
  role: TriggerRole;
  /** One sentence, identical for the live agent and a snapshot with the same data. */
  why: string;
  /** Extra detail for the log (instance health); never part of the plan. */
  detail: string;
}

/** Where a trigger's facts come from. */
export interface TriggerSource {
  localNode(): Promise<string>;
  datacenter(): Promise<string>;
  role(service: string): Promise<RoleFacts>;
  /** Value of a KV key; null when missing. */
  kv(key: string): Promise<string | null>;
  /** Current status of the check on the local agent (deferred runs); null when unknown. */
  checkStatus(check: HealthCheck): Promise<string | null>;
}

/** The role a trigger acts as: a secondary taking over acts as primary (never while locked). */
export function triggerRole(d: Decision): TriggerRole {
  return d.actingPrimary ? "primary" : d.role;
}

/** Why, in one sentence built only from the placement and the decision (no instance detail). */
export function roleWhy(p: Placement, d: Decision): string {
  if (p.kind !== "standby") return p.reason;
  if (d.actingPrimary) return `${p.reason}; no active instance passing: acting as primary`;
  if (d.waiting && p.lock) {
    return `${p.reason}; no active instance passing, but the cluster document is locked ` +
      `(a switch is under way): stays secondary`;
  }
  if (d.waiting) {
    return `${p.reason}; no active instance passing, but one has not reported yet: stays ` +
      `secondary`;
  }
  return `${p.reason}; an active instance is passing`;
}

/** The live agent. */
export class LiveSource implements TriggerSource {
  readonly id: IdentityCache;
  constructor(
    private consul: ConsulClient,
    private config: Config,
    nodeHint?: string | null,
  ) {
    this.id = new IdentityCache(consul, config, nodeHint);
  }
  localNode() {
    return this.id.node();
  }
  datacenter() {
    return this.id.datacenter();
  }
  async role(service: string): Promise<RoleFacts> {
    const v = await resolveCluster(this.consul, this.config, service, this.id);
    return {
      role: triggerRole(v.decision),
      why: roleWhy(v.placement, v.decision),
      detail: v.decision.reason,
    };
  }
  async kv(key: string) {
    const e = await this.consul.kvGet(key);
    return e === null ? null : e.value ?? "";
  }
  /** The local agent's status of the check; null when the agent does not know it. */
  async checkStatus(check: HealthCheck): Promise<string | null> {
    const all = await this.consul.agentChecks();
    if (check.CheckID) return all[check.CheckID]?.Status ?? null;
    const mine = Object.values(all).filter((c) => c.ServiceName === check.ServiceName);
    return mine.find((c) => c.Status !== "passing")?.Status ?? mine[0]?.Status ?? null;
  }
}

/** `consul kv export` JSON: [{key, flags, value (base64)}]. Throws InputError when malformed. */
export function parseKvExport(text: string, where: string): Map<string, string> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${where} is not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(raw)) {
    throw new InputError(`${where} must be the JSON array 'consul kv export' writes`);
  }
  const out = new Map<string, string>();
  raw.forEach((e, i) => {
    const o = e as Record<string, unknown> | null;
    if (!o || typeof o !== "object" || typeof o.key !== "string") {
      throw new InputError(`${where}: entry ${i} has no "key"`);
    }
    const v = o.value ?? "";
    if (typeof v !== "string") throw new InputError(`${where}: ${o.key}: "value" must be base64`);
    try {
      out.set(o.key, b64decode(v));
    } catch {
      throw new InputError(`${where}: ${o.key}: "value" is not valid base64`);
    }
  });
  return out;
}

/** A KV snapshot plus the operator's statement of the actives' health. */
export class SnapshotSource implements TriggerSource {
  constructor(
    private kvData: Map<string, string>,
    private config: Config,
    private node: string,
    private dc: string,
    private actives: "passing" | "failing" | undefined,
  ) {}
  localNode() {
    return Promise.resolve(this.node);
  }
  datacenter() {
    return Promise.resolve(this.dc);
  }
  // deno-lint-ignore require-await
  async role(service: string): Promise<RoleFacts> {
    const key = clusterKeyFor(this.config, service);
    const text = key === null ? undefined : this.kvData.get(key);
    const doc = text === undefined ? null : parseClusterDoc(text, `cluster document ${key}`);
    const dcs = doc ? docDatacenters(doc.raw) : [];
    if (this.dc && !dcs.includes(this.dc)) dcs.push(this.dc);
    const p = place({ doc, node: this.node, datacenter: this.dc, datacenters: dcs });
    let actives: ActiveInstance[] = [];
    if (p.kind === "standby") {
      if (!this.actives) {
        throw new UsageError(
          `node ${this.node} is a standby for ${service}: say how the actives are with ` +
            `--actives passing|failing`,
        );
      }
      const passing = this.actives === "passing";
      const names = "nodes" in p.actives ? p.actives.nodes : [`(${p.actives.datacenter})`];
      actives = names.map((n) => ({
        node: n,
        datacenter: "datacenter" in p.actives ? p.actives.datacenter : "",
        passing,
        failing: passing ? [] : ["--actives=failing"],
      }));
    }
    const d = decide(p, actives);
    return { role: triggerRole(d), why: roleWhy(p, d), detail: d.reason };
  }
  kv(key: string) {
    return Promise.resolve(this.kvData.get(key) ?? null);
  }
  checkStatus(): Promise<string | null> {
    return Promise.resolve(null);
  }
}

function docDatacenters(raw: Record<string, unknown>): string[] {
  const out = new Set<string>();
  const visit = (o: Record<string, unknown>) => {
    for (const k of ["active_datacenter", "standby_datacenter"]) {
      if (typeof o[k] === "string") out.add(o[k] as string);
    }
  };
  visit(raw);
  if (raw.filter && typeof raw.filter === "object") {
    for (const g of Object.values(raw.filter as Record<string, unknown>)) {
      if (g && typeof g === "object") visit(g as Record<string, unknown>);
    }
  }
  return [...out];
}

export type Outcome =
  | "ran"
  | "no-action"
  | "noop"
  | "limited"
  | "coalesced"
  | "dropped"
  | "planned";

export interface FireResult {
  outcome: Outcome;
  /** The trigger's exit code (the action's own code when it ran). */
  code: number;
  /** One line for stdout / the watch log. */
  message: string;
  plan?: TriggerPlan;
  stdout?: string;
  stderr?: string;
}

export interface FireDeps {
  config: Config;
  source: TriggerSource;
  runner: Runner;
  limiter: TriggerLimiter;
  dryRun: boolean;
  /** The trigger log (`trigger/<service>.<state>.log`). */
  log(service: string, state: TriggerState): Log;
  /** Dry-run plan output (text lines or one JSON line each). */
  out(line: string): void;
  format: "text" | "json";
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/**
 * `trigger/<service>.<state>.log`. The service name comes from the check JSON, so anything that
 * could leave the directory (a slash, a leading dot) is replaced.
 */
export function triggerLogFile(service: string, state: TriggerState): string {
  return join("trigger", `${safeFileName(service)}.${state}.log`);
}

export function safeFileName(name: string): string {
  return name.replace(/[^A-Za-z0-9@._:+-]/g, "_").replace(/^\./, "_") || "_";
}

function stormSentence(v: Verdict, now: number, cooldownS: number): string {
  switch (v.kind) {
    case "run":
      return `would run now (cooldown ${cooldownS}s not active, under the burst limit)`;
    case "defer":
      return `would wait ${Math.ceil((v.until - now) / 1000)}s (last run ${
        Math.floor((now - v.lastRun) / 1000)
      }s ago, cooldown ${cooldownS}s), then run if the check is still in this state`;
    case "coalesced":
      return `a deferred run by pid ${v.pid} is already pending: would leave it to that run`;
    case "limited":
      return `trigger limit reached (${v.runs} runs in the window): would not run until ${
        new Date(v.clearsAt).toISOString()
      } or 'powerconsul trigger reset'`;
  }
}

interface Resolved {
  plan: TriggerPlan;
  detail: string;
}

async function resolve(
  check: HealthCheck,
  state: TriggerState,
  deps: FireDeps,
  log: Log,
  dryRun: boolean,
): Promise<Resolved> {
  const service = check.ServiceName;
  const { source, config } = deps;
  const node = await source.localNode();
  if (check.Node !== node) {
    throw new InputError(
      `check ${check.CheckID || "-"} belongs to node ${check.Node}, not to this node (${node}): ` +
        `a trigger only acts on its own node's checks`,
    );
  }
  const facts = await source.role(service);
  const dc = await source.datacenter();
  const key = triggerKey(config.triggerPrefix, service, facts.role, state);
  const value = await source.kv(key);
  log.info(
    `role ${facts.role}: ${facts.detail}; key ${key} ${value === null ? "missing" : "found"}`,
  );
  // Every read-only probe a trigger needs is done: from here on a dry run cannot start programs.
  if (dryRun) dropRunPermission();
  const plan = buildPlan({
    ctx: { service, node, role: facts.role, state, check: check.CheckID, dc },
    why: facts.why,
    key,
    value,
    subVars: config.subVars,
  });
  return { plan, detail: facts.detail };
}

/**
 * Fire the trigger for one health check. Throws on unknown state (agent, KV, cluster document)
 * and on invalid input; everything else is an outcome with an exit code.
 */
export async function fire(
  check: HealthCheck,
  state: TriggerState,
  deps: FireDeps,
): Promise<FireResult> {
  const service = check.ServiceName;
  if (service === "") {
    throw new InputError(
      `check ${check.CheckID || "-"} on ${check.Node} is a node check (no ServiceName): ` +
        `triggers belong to services`,
    );
  }
  const log = deps.dryRun ? nullLog : deps.log(service, state);
  const now = deps.now ?? Date.now;
  const label = `${service}/${check.CheckID || "-"}`;
  if (deps.config.noopTriggers.includes(service)) {
    const message = `${service} is listed in noopTriggers: ${state} trigger for ${
      check.CheckID || "-"
    } logged, nothing run`;
    log.info(message);
    if (deps.dryRun) {
      dropRunPermission();
      if (deps.format === "json") {
        deps.out(
          JSON.stringify({ dryRun: true, service, state, check: check.CheckID, noop: true }),
        );
      } else deps.out(`dry-run: ${message}`);
    }
    return { outcome: "noop", code: Exit.OK, message };
  }

  // A watch's payload is the catalog's view, which can lag the local agent by a moment (seen
  // under load: a demoted node received its own check as still critical after it had passed).
  // The local agent runs the check, so its word is the freshest: act only if it agrees.
  if (!deps.dryRun) {
    const current = await deps.source.checkStatus(check).catch((e) => {
      log.error(
        `${label}: nothing run: cannot read the check from the local agent: ${describeError(e)}`,
      );
      throw e;
    });
    if (current !== null && current !== state) {
      const message = `nothing run: the local agent reports ${
        check.CheckID || service
      } as ${current} now, not ${state} (the watch's data was older)`;
      log.info(`${label}: ${message}`);
      return { outcome: "dropped", code: Exit.OK, message };
    }
  }

  let r: Resolved;
  try {
    r = await resolve(check, state, deps, log, deps.dryRun);
  } catch (e) {
    log.error(`${label}: nothing run: ${describeError(e)}`);
    throw e;
  }
  let limitKey: LimitKey = { service, role: r.plan.ctx.role, state };

  if (deps.dryRun) {
    const verdict = await deps.limiter.peek(limitKey);
    const o: RenderOptions = {
      storm: stormSentence(verdict, now(), deps.config.triggerCooldown),
      logFile: join(deps.config.logDir, triggerLogFile(service, state)),
      stateFile: join(deps.config.logDir, STATE_FILE),
      scriptDir: join(deps.config.logDir, SCRIPT_DIR),
      timeoutS: deps.config.triggerTimeout,
    };
    if (deps.format === "json") deps.out(JSON.stringify(planJson(r.plan, o)));
    else for (const l of renderPlan(r.plan, o)) deps.out(`dry-run: ${l}`);
    return { outcome: "planned", code: Exit.OK, message: `planned ${r.plan.key}`, plan: r.plan };
  }

  if (r.plan.action === null) {
    const message = `no action at ${r.plan.key} (missing or empty): nothing to do`;
    log.info(`${label}: ${message}`);
    return { outcome: "no-action", code: Exit.OK, message, plan: r.plan };
  }
  for (const s of r.plan.shadowed) log.warn(`subVars @${s} replaces the built-in @${s}`);

  // Restart-storm protection.
  let verdict = await deps.limiter.attempt(limitKey);
  if (verdict.kind === "defer") {
    const waitMs = verdict.until - now();
    log.info(
      `${label}: ${keyName(limitKey)} ran ${
        Math.round((now() - verdict.lastRun) / 100) / 10
      }s ago (cooldown ${deps.config.triggerCooldown}s): deferred ${
        Math.round(waitMs / 100) / 10
      }s, then re-checked`,
    );
    await (deps.sleep ?? defaultSleep)(waitMs);
    let status: string | null;
    try {
      status = await deps.source.checkStatus(check);
    } catch (e) {
      await releasePending(deps.limiter, limitKey);
      const message = `deferred run dropped: cannot re-read ${
        check.CheckID || service
      } from the agent (${describeError(e)})`;
      log.warn(`${label}: ${message}`);
      throw e;
    }
    if (status !== state) {
      await releasePending(deps.limiter, limitKey);
      const message = `deferred run not needed: ${check.CheckID || service} is now ${
        status ?? "gone"
      }, no longer ${state}`;
      log.info(`${label}: ${message}`);
      return { outcome: "dropped", code: Exit.OK, message };
    }
    // The situation may have moved on while waiting: resolve the role and the action again.
    let again: Resolved;
    try {
      again = await resolve(check, state, deps, log, false);
    } catch (e) {
      await releasePending(deps.limiter, limitKey);
      log.error(`${label}: deferred run dropped: ${describeError(e)}`);
      throw e;
    }
    const newKey: LimitKey = { service, role: again.plan.ctx.role, state };
    if (keyName(newKey) !== keyName(limitKey)) await releasePending(deps.limiter, limitKey);
    r = again;
    limitKey = newKey;
    // As the owner of the deferred run: never coalesced, never marks a new pending run.
    verdict = await deps.limiter.attempt(newKey, true);
    if (verdict.kind === "defer" || verdict.kind === "coalesced") {
      const message = `deferred run not needed: ${keyName(newKey)} ran meanwhile`;
      log.info(`${label}: ${message}`);
      return { outcome: "dropped", code: Exit.OK, message };
    }
    if (r.plan.action === null) {
      const message = `no action at ${r.plan.key} (missing or empty): nothing to do`;
      log.info(`${label}: ${message}`);
      return { outcome: "no-action", code: Exit.OK, message, plan: r.plan };
    }
  }
  if (verdict.kind === "coalesced") {
    const message =
      `a deferred run of ${keyName(limitKey)} is already pending (pid ${verdict.pid}, ` +
      `due ${new Date(verdict.until).toISOString()}): coalesced into it`;
    log.info(`${label}: ${message}`);
    return { outcome: "coalesced", code: Exit.OK, message, plan: r.plan };
  }
  if (verdict.kind === "limited") {
    const message = `trigger limit reached: ${keyName(limitKey)} ran ${verdict.runs} times in ` +
      `${deps.config.triggerWindow}s; not acting until ${
        new Date(verdict.clearsAt).toISOString()
      } or 'powerconsul trigger reset -S ${service}'`;
    log.warn(`${label}: ${message}`);
    return { outcome: "limited", code: Exit.FAILED, message, plan: r.plan };
  }

  const action = r.plan.action!;
  log.info(
    `${label}: running ${
      describeAction(action)
    } as ${r.plan.ctx.role} (${r.plan.why}; timeout ${deps.config.triggerTimeout}s)`,
  );
  const result = await executeAction(action, {
    runner: deps.runner,
    logDir: deps.config.logDir,
    timeoutMs: deps.config.triggerTimeout * 1000,
    env: r.plan.env,
    label: `${service}.${state}`,
  });
  const code = actionExitCode(result);
  const how = result.timedOut
    ? `killed after the ${deps.config.triggerTimeout}s trigger timeout`
    : describeRun(result);
  const message = `${r.plan.key}: ${describeAction(action)} → ${how} in ${
    Math.round(result.ms)
  } ms (trigger exit ${code})`;
  (code === 0 ? log.info : log.warn).call(log, `${label}: ${message}`);
  if (result.stdout !== "") log.info(`${label}: stdout: ${clip(result.stdout)}`);
  if (result.stderr !== "") log.info(`${label}: stderr: ${clip(result.stderr)}`);
  return {
    outcome: "ran",
    code,
    message,
    plan: r.plan,
    stdout: result.stdout,
    stderr: result.stderr,
  };
}

function releasePending(limiter: TriggerLimiter, key: LimitKey): Promise<void> {
  return limiter.release(key);
}

function clip(s: string): string {
  const t = s.replace(/\n$/, "");
  return t.length > 16_384 ? `…${t.slice(-16_384)}` : t;
}
