/**
 * Where a trigger's facts come from: the live agent, or a `consul kv export` snapshot for
 * offline testing. Both read the one cluster view (lib/cluster/view.ts), so an offline plan
 * reads exactly like the live one for the same data; the role and its sentence come from the
 * view's decision.
 */
import type { Config } from "../config.ts";
import type { ConsulClient, KvEntry } from "../consul/client.ts";
import { IdentityCache, LiveFacts } from "../cluster/facts.ts";
import { SnapshotFacts, type SnapshotStatement } from "../cluster/snapshot.ts";
import { readClusterView } from "../cluster/view.ts";
import type { Decision, Role } from "../cluster/role.ts";
import type { HealthCheck } from "./plan.ts";

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

/** What a trigger uses of a decision. */
function roleFacts(d: Decision): RoleFacts {
  return { role: d.actsAs, why: d.why, detail: d.reason };
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
    const facts = new LiveFacts(this.consul, this.id);
    return roleFacts((await readClusterView(facts, this.config, service)).decision);
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

/** A KV snapshot (lib/cluster/snapshot.ts parses it) plus the operator's statement. */
export class SnapshotSource implements TriggerSource {
  readonly #facts: SnapshotFacts;
  constructor(
    private kvData: Map<string, KvEntry>,
    private config: Config,
    private stated: SnapshotStatement,
  ) {
    this.#facts = new SnapshotFacts(kvData, config, stated);
  }
  localNode() {
    return Promise.resolve(this.stated.node);
  }
  datacenter() {
    return Promise.resolve(this.stated.datacenter);
  }
  async role(service: string): Promise<RoleFacts> {
    return roleFacts((await readClusterView(this.#facts, this.config, service)).decision);
  }
  kv(key: string) {
    const e = this.kvData.get(key);
    return Promise.resolve(e === undefined ? null : e.value ?? "");
  }
  checkStatus(): Promise<string | null> {
    return Promise.resolve(null);
  }
}
