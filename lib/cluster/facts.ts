/**
 * Where the cluster view's facts come from: the live agent, or an offline snapshot
 * (lib/cluster/snapshot.ts). The view (lib/cluster/view.ts) reads only through this interface,
 * so a snapshot plan reads exactly like a live one for the same data.
 */
import type { Config } from "../config.ts";
import type { ConsulClient, KvEntry } from "../consul/client.ts";
import { kvPath } from "../names.ts";
import { type Instance, toInstance } from "./health.ts";

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

/** The live agent. */
export class LiveFacts implements ClusterFacts {
  constructor(private consul: ConsulClient, readonly id: IdentityCache) {}
  kvGet(key: string, dc?: string) {
    return this.consul.kvGet(key, dc ? { dc } : {});
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
    return (await this.consul.serviceHealth(service, dc ? { dc } : {})).map(toInstance);
  }
}
