/**
 * Where a trigger's facts come from: the live agent, or a `consul kv export` snapshot for
 * offline testing. Both feed the same pure planner, so an offline plan reads exactly like the
 * live one for the same data. The role and its reason are worked out in one place each:
 * `triggerRole()` and `roleWhy()` (to be replaced by the cluster decision's own fields).
 */
import type { Config } from "../config.ts";
import type { ConsulClient } from "../consul/client.ts";
import { b64decode } from "../consul/client.ts";
import { parseClusterDoc } from "../cluster/doc.ts";
import { clusterKeyFor, IdentityCache, resolveCluster } from "../cluster/resolve.ts";
import {
  type ActiveInstance,
  decide,
  type Decision,
  place,
  type Placement,
  type Role,
} from "../cluster/role.ts";
import { UsageError } from "../errors.ts";
import { type HealthCheck, InputError } from "./plan.ts";

export interface RoleFacts {
  role: Role;
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
export function triggerRole(d: Decision): Role {
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
  // waiting for an active to stay down long enough, for one to register, or on this node's
  // own health: the decision says which, without instance detail
  if (d.waiting) return d.why;
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
