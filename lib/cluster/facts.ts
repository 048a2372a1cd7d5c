/**
 * Where the cluster view's facts come from: the live agent, or an offline snapshot
 * (lib/cluster/snapshot.ts). The view (lib/cluster/view.ts) reads only through this interface,
 * so a snapshot plan reads exactly like a live one for the same data.
 */
import type { Config } from "../config.ts";
import type { ConsulClient, KvEntry } from "../consul/client.ts";
import type { WireHealthCheck, WireHealthEntry } from "../consul/types.ts";
import { kvPath } from "../names.ts";
import { type Instance, toInstance } from "./health.ts";
import {
  type ActiveObservation,
  type HealMark,
  isHealState,
  type TakeoverState,
} from "./takeover.ts";
import { FileTakeoverStore, type TakeoverStore } from "./takeover_store.ts";

export interface ClusterFacts {
  /** One KV entry (the local datacenter's when dc is omitted); null when missing. */
  kvGet(key: string, dc?: string): Promise<KvEntry | null>;
  /** This node's name. */
  node(): Promise<string>;
  datacenter(): Promise<string>;
  /** Datacenters the catalog knows. */
  datacenters(): Promise<string[]>;
  /** Every instance of a service in one datacenter (local when dc is omitted). */
  serviceHealth(service: string, dc?: string): Promise<Instance[]>;
  // What a live standby reads beyond the catalog (absent: offline facts, which state health).
  /** The standby's memory of a service and the clock it is kept in. */
  takeover?(service: string, node: string): Promise<{ state: TakeoverState; now: number }>;
  /** The local agent's members list: status by node name. */
  members?(): Promise<Map<string, ActiveObservation["member"]>>;
  /**
   * One listing of heartbeatPrefix()'s prefix: the ModifyIndex of each `<prefix><node>/heartbeat`
   * key, and each `<prefix><node>/healing` mark with a known value (nodes without one are left
   * out).
   */
  heartbeats?(prefix: string, dc?: string): Promise<NodeKeys>;
  /** Whether a node's own checks (serfHealth, maintenance) pass, and which do not. */
  nodeHealth?(node: string): Promise<{ healthy: boolean; detail: string }>;
}

/** What a standby reads of the actives' own keys. */
export interface NodeKeys {
  beats: Map<string, number>;
  marks: Map<string, HealMark>;
}

/** Where the heartbeat keys and heal marks of a service's nodes live. */
export function heartbeatPrefix(servicePrefix: string, consulService: string): string {
  return kvPath(servicePrefix, ["the Consul service", consulService]) + "/";
}

/** `<servicePrefix>/<svc>/<node>/<leaf>`: a key a node writes of itself. */
function nodeKey(servicePrefix: string, consulService: string, node: string, leaf: string): string {
  return kvPath(servicePrefix, ["the Consul service", consulService], ["the node name", node]) +
    `/${leaf}`;
}

/** The KV key an active's check moves while it renews its lease (lib/ha/renew.ts). */
export function heartbeatKey(servicePrefix: string, consulService: string, node: string): string {
  return nodeKey(servicePrefix, consulService, node, "heartbeat");
}

/** The KV key an active's trigger marks its own healing in (lib/triggers/heal_mark.ts). */
export function healKey(servicePrefix: string, consulService: string, node: string): string {
  return nodeKey(servicePrefix, consulService, node, "healing");
}

/**
 * The KV key of a service's cluster document, or null without clusterKey. The one place it is
 * built; a service name that is not one key segment is a UsageError.
 */
export function clusterKeyFor(config: Config, consulService: string): string | null {
  return config.clusterKey ? kvPath(config.clusterKey, ["Consul service", consulService]) : null;
}

/** The KV prefix every cluster document sits under ("<clusterKey>/"), or null without one. */
export function clusterPrefixFor(config: Pick<Config, "clusterKey">): string | null {
  return config.clusterKey ? `${kvPath(config.clusterKey)}/` : null;
}

/** Lazily fetched agent identity: --node/nodeName beat the agent's own name. */
export class IdentityCache {
  #self?: Promise<{ node: string; datacenter: string }>;
  constructor(
    private consul: ConsulClient,
    private config: Config,
    /** The node name as the local registration shows it (may still be in flight). */
    private nodeHint?: string | null | Promise<string | null>,
  ) {}
  #agent() {
    this.#self ??= this.consul.agentSelf();
    return this.#self;
  }
  async node(): Promise<string> {
    if (this.config.nodeName) return this.config.nodeName;
    const hint = await Promise.resolve(this.nodeHint).catch(() => null);
    if (hint) return hint;
    return (await this.#agent()).node;
  }
  async datacenter(): Promise<string> {
    return (await this.#agent()).datacenter;
  }
}

/** The heartbeats and heal marks in a listing of heartbeatPrefix()'s prefix (pure). */
export function nodeKeysOf(prefix: string, entries: KvEntry[]): NodeKeys {
  const out: NodeKeys = { beats: new Map(), marks: new Map() };
  for (const e of entries) {
    const rest = e.key.slice(prefix.length);
    const m = /^([^/]+)\/(heartbeat|healing)$/.exec(rest);
    if (!e.key.startsWith(prefix) || !m) continue;
    if (m[2] === "heartbeat") out.beats.set(m[1]!, e.modifyIndex);
    else if (isHealState(e.value)) out.marks.set(m[1]!, { index: e.modifyIndex, state: e.value });
  }
  return out;
}

/**
 * A check's first wave of reads, sent together as soon as the run starts: the cluster document
 * and the service's own keys (`<servicePrefix>/<service>/`: heartbeats and heal marks) in one
 * transaction, and the catalog's health of the service (the actives for a standby, this node's
 * own checks for an active's lease). LiveFacts answers the document, the heartbeats and the
 * health from it; every other key is read alone (the pause flag above all: a prefix read leaves
 * out what the token may not read, so "absent" and "hidden" would look alike there). A
 * transaction without the document in its answer (rolled back: no document yet; or the document
 * left out: the token may not read it) answers nothing, and those keys are read one by one,
 * whose answers say which it was. A read that failed fails whatever asks for it, as the read it
 * replaces would have.
 */
export class FirstReads {
  readonly kv: Promise<KvEntry[] | null>;
  readonly health: Promise<WireHealthEntry[]>;
  constructor(
    consul: Pick<ConsulClient, "kvReadTxn" | "serviceHealth">,
    readonly docKey: string,
    readonly ownPrefix: string,
    readonly service: string,
  ) {
    // A `get` of a missing key rolls the transaction back; one the token may not read is left
    // out of a 200 instead (Consul filters reads by ACL). Without the document in the answer,
    // nothing in it is trusted: each key is then read alone, and a denial is a 403.
    this.kv = consul.kvReadTxn([{ verb: "get", key: docKey }, { verb: "get-tree", key: ownPrefix }])
      .then((got) => got?.some((e) => e.key === docKey) ? got : null);
    this.health = consul.serviceHealth(service);
    // awaited by whoever needs them; a run that fails first must not leave a rejection unhandled
    this.kv.catch(() => {});
    this.health.catch(() => {});
  }
}

/** The live agent (and this host's takeover memory, read here and saved by the check). */
export class LiveFacts implements ClusterFacts {
  constructor(
    private consul: ConsulClient,
    readonly id: IdentityCache,
    readonly store: TakeoverStore = new FileTakeoverStore(),
    /** A check's first wave of reads, answered from before asking again. */
    private first?: FirstReads,
  ) {}
  async takeover(service: string, node: string) {
    const state = await this.store.load(service, node);
    return { state, now: this.store.now() };
  }
  async members() {
    return new Map((await this.consul.agentMembers()).map((m) => [m.name, m.status]));
  }
  async heartbeats(prefix: string, dc?: string) {
    const first = dc === undefined && prefix === this.first?.ownPrefix ? await this.first.kv : null;
    const entries = first ?? (await this.consul.kvList(prefix, dc ? { dc } : {})).entries;
    return nodeKeysOf(prefix, entries);
  }
  async nodeHealth(node: string) {
    const checks = await this.nodeChecks(node);
    const bad = checks.filter((c) => (c.ServiceID ?? "") === "" && c.Status !== "passing");
    if (checks.length === 0) return { healthy: false, detail: `node ${node} has no checks` };
    return {
      healthy: bad.length === 0,
      detail: bad.map((c) => `${c.CheckID}=${c.Status}`).join("+"),
    };
  }
  /**
   * A node's checks in the catalog: from the first reads' answer when it lists the node with
   * its serfHealth (an instance's entry carries its node's checks), else asked.
   */
  async nodeChecks(node: string): Promise<WireHealthCheck[]> {
    const listed = this.first
      ? (await this.first.health).find((e) =>
        e.Node.Node === node && e.Checks.some((c) => c.CheckID === "serfHealth")
      )
      : undefined;
    return listed ? listed.Checks : await this.consul.nodeHealth(node);
  }
  async kvGet(key: string, dc?: string) {
    const f = this.first;
    if (dc === undefined && f && key === f.docKey) {
      const got = await f.kv;
      if (got !== null) return got.find((e) => e.key === key) ?? null;
    }
    return await this.consul.kvGet(key, dc ? { dc } : {});
  }
  node() {
    return this.id.node();
  }
  datacenter() {
    return this.id.datacenter();
  }
  datacenters() {
    return this.consul.datacenters();
  }
  async serviceHealth(service: string, dc?: string) {
    const first = dc === undefined && service === this.first?.service ? this.first.health : null;
    return (await (first ?? this.consul.serviceHealth(service, dc ? { dc } : {}))).map(toInstance);
  }
}
