/**
 * The cluster view: the one reading of a service's cluster state (its document and the KV
 * entry it came from, where this node sits, the actives' health, the lock) from a facts source,
 * then the pure place()/decide(). Check, trigger, status and service read only this.
 */
import type { Config } from "../config.ts";
import type { KvEntry } from "../consul/client.ts";
import { type ClusterDoc, parseClusterDoc, selectGroup } from "./doc.ts";
import { type ClusterFacts, clusterKeyFor } from "./facts.ts";
import type { Instance } from "./health.ts";
import { historyKeyFor } from "../history/entry.ts";
import {
  type ActiveInstance,
  compileFilter,
  decide,
  type Decision,
  place,
  type Placement,
  relevantActives,
} from "./role.ts";

export interface ClusterView {
  /** KV key of the document, or null without clusterKey. */
  key: string | null;
  entry: KvEntry | null;
  doc: ClusterDoc | null;
  node: string;
  placement: Placement;
  actives: ActiveInstance[];
  decision: Decision;
  /** Where this service's role changes are recorded (set by readClusterView). */
  history?: { key: string; service: string };
}

/** Read and parse the cluster document for a service (null doc when absent or no clusterKey). */
export async function readDoc(
  facts: Pick<ClusterFacts, "kvGet">,
  config: Config,
  consulService: string,
  dc?: string,
): Promise<{ key: string | null; entry: KvEntry | null; doc: ClusterDoc | null }> {
  const key = clusterKeyFor(config, consulService);
  if (key === null) return { key, entry: null, doc: null };
  const entry = await facts.kvGet(key, dc);
  if (entry === null) return { key, entry, doc: null };
  return { key, entry, doc: parseClusterDoc(entry.value ?? "", `cluster document ${key}`) };
}

/** Health of the instances that count as actives for a placement. */
export async function activesHealth(
  facts: ClusterFacts,
  config: Config,
  consulService: string,
  p: Placement,
): Promise<Instance[]> {
  if (p.kind !== "standby" && p.kind !== "active") return [];
  const filter = compileFilter(config.serviceFilter);
  if ("datacenter" in p.actives) {
    const all = await facts.serviceHealth(consulService, p.actives.datacenter);
    return relevantActives(p, all, filter);
  }
  // Node-level documents look across every datacenter; the local one first, because one
  // passing active there settles it with a single request.
  const all = await facts.serviceHealth(consulService);
  const local = relevantActives(p, all, filter);
  if (local.some((i) => i.passing)) return local;
  // The local answer names our datacenter (our own instance is in it): one request saved.
  const here = all[0]?.datacenter ?? await facts.datacenter();
  const others = (await facts.datacenters()).filter((dc) => dc !== here);
  const rest = await Promise.all(others.map((dc) => facts.serviceHealth(consulService, dc)));
  return [...local, ...rest.flatMap((r) => relevantActives(p, r, filter))];
}

/** Resolve the local node's role for a Consul service. Throws on any unknown state. */
export async function readClusterView(
  facts: ClusterFacts,
  config: Config,
  consulService: string,
): Promise<ClusterView> {
  const { key, entry, doc } = await readDoc(facts, config, consulService);
  const node = doc ? await facts.node() : (config.nodeName ?? "");
  let placement: Placement;
  if (doc && needsDatacenters(doc, node)) {
    const [dc, dcs] = await Promise.all([facts.datacenter(), facts.datacenters()]);
    placement = place({ doc, node, datacenter: dc, datacenters: dcs });
  } else {
    placement = place({ doc, node, datacenter: "" });
  }
  const docIndex = entry?.modifyIndex ?? 0;
  const actives = placement.kind === "standby"
    ? (await activesHealth(facts, config, consulService, placement)).map((a) => ({
      ...a,
      settled: a.checksIndex > docIndex || a.claimsActive,
    }))
    : [];
  return {
    key,
    entry,
    doc,
    node,
    placement,
    actives,
    decision: decide(placement, actives),
    history: { key: historyKeyFor(config, consulService), service: consulService },
  };
}

/** Whether the node's group is datacenter-level (place() then needs the datacenters). */
function needsDatacenters(doc: ClusterDoc, node: string): boolean {
  try {
    return selectGroup(doc, node).group.spec.mode === "datacenters";
  } catch {
    // no group for the node: place() says so
    return false;
  }
}
