/**
 * Offline cluster facts: a `consul kv export` snapshot, this node's name and datacenter as the
 * operator states them, and the operator's statement of the actives' health (passing or
 * failing). The same view (lib/cluster/view.ts) reads them as it reads a live agent.
 */
import type { Config } from "../config.ts";
import { b64decode, type KvEntry } from "../consul/client.ts";
import { PowerconsulError, UsageError } from "../errors.ts";
import { Exit } from "../exit_codes.ts";
import { parseClusterDoc } from "./doc.ts";
import { type ClusterFacts, clusterKeyFor, clusterPrefixFor } from "./facts.ts";
import type { Instance } from "./health.ts";

/** A snapshot that cannot be read: one line, exit 1 (bad input). */
export class SnapshotError extends PowerconsulError {
  constructor(message: string) {
    super(message, Exit.FAILED);
  }
}

/** `consul kv export` JSON: [{key, flags, value (base64)}] → entries by key (index 0). */
export function parseKvSnapshot(text: string, where: string): Map<string, KvEntry> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new SnapshotError(`${where} is not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(raw)) {
    throw new SnapshotError(`${where} must be the JSON array 'consul kv export' writes`);
  }
  const out = new Map<string, KvEntry>();
  raw.forEach((e, i) => {
    const o = e as Record<string, unknown> | null;
    if (!o || typeof o !== "object" || typeof o.key !== "string") {
      throw new SnapshotError(`${where}: entry ${i} has no "key"`);
    }
    const v = o.value ?? "";
    if (typeof v !== "string") {
      throw new SnapshotError(`${where}: ${o.key}: "value" must be base64`);
    }
    let value: string;
    try {
      value = b64decode(v);
    } catch {
      throw new SnapshotError(`${where}: ${o.key}: "value" is not valid base64`);
    }
    const flags = typeof o.flags === "number" ? o.flags : 0;
    out.set(o.key, {
      key: o.key,
      value,
      modifyIndex: 0,
      createIndex: 0,
      lockIndex: 0,
      flags,
      session: null,
    });
  });
  return out;
}

export interface SnapshotStatement {
  node: string;
  datacenter: string;
  /** How the actives are; required only when the node turns out to be a standby. */
  actives?: "passing" | "failing";
}

/**
 * A snapshot has no catalog: an instance is reported for every node a cluster document names
 * (node-level documents), or one stand-in `(<dc>)` per datacenter asked about (datacenter-level
 * documents), all with the stated health. The datacenters are those the documents name, and
 * this node's own.
 */
export class SnapshotFacts implements ClusterFacts {
  constructor(
    private kv: Map<string, KvEntry>,
    private config: Config,
    private stated: SnapshotStatement,
  ) {}
  kvGet(key: string, dc?: string) {
    if (dc !== undefined && dc !== this.stated.datacenter) return Promise.resolve(null);
    return Promise.resolve(this.kv.get(key) ?? null);
  }
  node() {
    return Promise.resolve(this.stated.node);
  }
  datacenter() {
    return Promise.resolve(this.stated.datacenter);
  }
  datacenters() {
    const out = new Set<string>();
    for (const doc of this.#docs()) {
      const groups = doc.kind === "single" ? [doc.group] : doc.groups.map((g) => g.group);
      for (const g of groups) {
        if (g.spec.mode === "datacenters") out.add(g.spec.active).add(g.spec.standby);
      }
    }
    if (this.stated.datacenter) out.add(this.stated.datacenter);
    return Promise.resolve([...out]);
  }
  serviceHealth(service: string, dc?: string): Promise<Instance[]> {
    const health = this.stated.actives;
    if (!health) {
      return Promise.reject(
        new UsageError(
          `node ${this.stated.node} is a standby for ${service}: say how the actives are with ` +
            `--actives passing|failing`,
        ),
      );
    }
    const here = dc ?? this.stated.datacenter;
    const names = new Set<string>();
    const key = clusterKeyFor(this.config, service);
    const doc = key === null ? null : this.#parse(key);
    const groups = doc === null
      ? []
      : doc.kind === "single"
      ? [doc.group]
      : doc.groups.map((g) => g.group);
    for (const g of groups) {
      if (g.spec.mode === "nodes" && here === this.stated.datacenter) {
        for (const n of [...g.spec.active, ...g.spec.standby]) names.add(n);
      }
      if (g.spec.mode === "datacenters" && here !== this.stated.datacenter) names.add(`(${here})`);
    }
    const passing = health === "passing";
    return Promise.resolve([...names].map((node) => ({
      node,
      datacenter: here,
      serviceId: service,
      service,
      tags: [],
      passing,
      failing: passing ? [] : ["--actives=failing"],
      pending: false,
      checksIndex: 0,
      // the operator's statement is about the current document
      claimsActive: passing,
    })));
  }
  *#docs() {
    const prefix = clusterPrefixFor(this.config);
    if (prefix === null) return;
    for (const key of this.kv.keys()) {
      if (!key.startsWith(prefix)) continue;
      const doc = this.#parse(key);
      if (doc) yield doc;
    }
  }
  #parse(key: string) {
    const e = this.kv.get(key);
    if (!e) return null;
    try {
      return parseClusterDoc(e.value ?? "", `cluster document ${key}`);
    } catch {
      // the view parses the service's own document again and reports the error
      return null;
    }
  }
}
