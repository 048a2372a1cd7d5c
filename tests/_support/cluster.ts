/** Fixture builders for cluster documents, instances and views (no agent). */
import { type ClusterDoc, parseClusterDoc } from "../../lib/cluster/doc.ts";
import type { ClusterFacts } from "../../lib/cluster/facts.ts";
import type { Instance } from "../../lib/cluster/health.ts";
import type { ActiveInstance } from "../../lib/cluster/role.ts";
import type { KvEntry } from "../../lib/consul/client.ts";
import { type Config, DEFAULTS } from "../../lib/config.ts";
import type { ActiveObservation, HealMark } from "../../lib/cluster/takeover.ts";
import type { TakeoverStore } from "../../lib/cluster/takeover_store.ts";

export const nodesDoc = (extra: Record<string, unknown> = {}): ClusterDoc =>
  parseClusterDoc(JSON.stringify({ active_nodes: ["a1", "a2"], standby_nodes: ["s1"], ...extra }));

export const dcDoc = (extra: Record<string, unknown> = {}): ClusterDoc =>
  parseClusterDoc(
    JSON.stringify({ active_datacenter: "dc1", standby_datacenter: "dc2", ...extra }),
  );

export const up = (node: string, dc = "dc1"): ActiveInstance => ({
  node,
  datacenter: dc,
  passing: true,
  failing: [],
});

export const down = (node: string, dc = "dc1"): ActiveInstance => ({
  node,
  datacenter: dc,
  passing: false,
  failing: ["serfHealth=critical"],
});

/** An instance as the health rule reports it. */
export const instance = (
  node: string,
  passing: boolean,
  dc = "dc1",
  failing: string[] = [],
  extra: Partial<Instance> = {},
): Instance => ({
  node,
  datacenter: dc,
  serviceId: "web",
  service: "web",
  tags: [],
  passing,
  failing,
  pending: false,
  checksIndex: 0,
  claimsActive: false,
  ...extra,
});

export const kvEntry = (key: string, value: unknown, modifyIndex = 10): KvEntry => ({
  key,
  value: typeof value === "string" ? value : JSON.stringify(value),
  modifyIndex,
  createIndex: 1,
  lockIndex: 0,
  flags: 0,
  session: null,
});

/** Facts from plain data, recording every call (to assert how few requests a view makes). */
export class FakeFacts implements ClusterFacts {
  readonly calls: string[] = [];
  constructor(
    private data: {
      node: string;
      datacenter: string;
      datacenters?: string[];
      /** key → entry; "dc2:key" for another datacenter's copy. */
      kv?: Record<string, KvEntry>;
      /** datacenter → instances. */
      health?: Record<string, Instance[]>;
    },
  ) {}
  kvGet(key: string, dc?: string) {
    this.calls.push(`kv ${dc ?? ""}${dc ? ":" : ""}${key}`);
    return Promise.resolve(this.data.kv?.[dc ? `${dc}:${key}` : key] ?? null);
  }
  node() {
    return Promise.resolve(this.data.node);
  }
  datacenter() {
    return Promise.resolve(this.data.datacenter);
  }
  datacenters() {
    this.calls.push("datacenters");
    return Promise.resolve(this.data.datacenters ?? [this.data.datacenter]);
  }
  serviceHealth(service: string, dc?: string) {
    this.calls.push(`health ${service}${dc ? `@${dc}` : ""}`);
    return Promise.resolve(this.data.health?.[dc ?? this.data.datacenter] ?? []);
  }
}

/** A configuration: the defaults with some keys changed. */
export const config = (over: Partial<Config> = {}): Config => ({ ...DEFAULTS, ...over });

/**
 * Facts that also keep a standby's memory, members, heartbeats and node health, as the live
 * agent does (so a standby decides with its takeover rules).
 */
export class MemoryFacts extends FakeFacts {
  constructor(
    data: ConstructorParameters<typeof FakeFacts>[0],
    readonly store: TakeoverStore,
    readonly extra: {
      members?: Record<string, ActiveObservation["member"]>;
      heartbeats?: Record<string, number>;
      marks?: Record<string, HealMark>;
      nodeHealth?: { healthy: boolean; detail: string };
    } = {},
  ) {
    super(data);
  }
  async takeover(service: string, node: string) {
    return { state: await this.store.load(service, node), now: this.store.now() };
  }
  members() {
    this.calls.push("members");
    return Promise.resolve(new Map(Object.entries(this.extra.members ?? {})));
  }
  heartbeats(prefix: string, dc?: string) {
    this.calls.push(`heartbeats ${prefix}${dc ? `@${dc}` : ""}`);
    return Promise.resolve({
      beats: new Map(Object.entries(this.extra.heartbeats ?? {})),
      marks: new Map(Object.entries(this.extra.marks ?? {})),
    });
  }
  nodeHealth(node: string) {
    this.calls.push(`node ${node}`);
    return Promise.resolve(this.extra.nodeHealth ?? { healthy: true, detail: "" });
  }
}
