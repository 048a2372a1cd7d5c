/**
 * The cluster view: the one reading of a service's cluster state (its document and the KV
 * entry it came from, where this node sits, the actives' health, the lock) from a facts source,
 * then the pure place()/decide(). Check, trigger, status and service read only this.
 */
import type { Config } from "../config.ts";
import type { KvEntry } from "../consul/client.ts";
import { type ClusterDoc, parseClusterDoc, selectGroup } from "./doc.ts";
import { type ClusterFacts, clusterKeyFor, heartbeatPrefix } from "./facts.ts";
import type { Instance } from "./health.ts";
import { type HistoryAction, historyKeyFor, newestDocChange } from "../history/entry.ts";
import {
  type ActiveInstance,
  compileFilter,
  decide,
  type Decision,
  place,
  type Placement,
  relevantActives,
  type TakeoverInput,
} from "./role.ts";
import {
  type ActiveObservation,
  type Observation,
  observe,
  type TakeoverState,
  type Timing,
} from "./takeover.ts";

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
  /**
   * A live standby's memory after this run's observation, for the check to save (null when
   * the facts keep none, or the node is not a standby).
   */
  takeover?: TakeoverState | null;
}

/** The takeover timings from the configuration. */
export function timingOf(config: Config): Timing {
  return {
    failoverDamping: config.failoverDamping,
    takeoverDelay: config.takeoverDelay,
    lockTimeout: config.lockTimeout,
    leaseSeconds: config.leaseSeconds,
    triggerTimeout: config.triggerTimeout,
    checkInterval: config.checkInterval,
  };
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

/** What a standby's reading of the actives found. */
export interface ActivesRead {
  /** The instances that count as actives. */
  actives: Instance[];
  /** The local datacenter's whole answer, when it was asked (it holds this node's instance). */
  local: Instance[] | null;
  /** Every datacenter that can hold an active was asked. */
  complete: boolean;
}

/** Health of the instances that count as actives for a placement. */
export async function activesHealth(
  facts: ClusterFacts,
  config: Config,
  consulService: string,
  p: Placement,
): Promise<ActivesRead> {
  if (p.kind !== "standby" && p.kind !== "active") {
    return { actives: [], local: null, complete: true };
  }
  const filter = compileFilter(config.serviceFilter);
  if ("datacenter" in p.actives) {
    const all = await facts.serviceHealth(consulService, p.actives.datacenter);
    return { actives: relevantActives(p, all, filter), local: null, complete: true };
  }
  // Node-level documents look across every datacenter; the local one first, because one
  // passing active there settles it with a single request.
  const all = await facts.serviceHealth(consulService);
  const local = relevantActives(p, all, filter);
  if (local.some((i) => i.passing)) return { actives: local, local: all, complete: false };
  // The local answer names our datacenter (our own instance is in it): one request saved.
  const here = all[0]?.datacenter ?? await facts.datacenter();
  const others = (await facts.datacenters()).filter((dc) => dc !== here);
  const rest = await Promise.all(others.map((dc) => facts.serviceHealth(consulService, dc)));
  return {
    actives: [...local, ...rest.flatMap((r) => relevantActives(p, r, filter))],
    local: all,
    complete: true,
  };
}

/**
 * This run's observation of the actives (the catalog answer, and where it leaves gaps the
 * members list; the heartbeats and heal marks, one KV listing), for takeover.ts. An active the answer could not have listed
 * (another datacenter not asked) is left out: not looking is no evidence.
 */
async function observation(
  facts: ClusterFacts,
  config: Config,
  consulService: string,
  p: Extract<Placement, { kind: "active" | "standby" }>,
  read: ActivesRead,
  state: TakeoverState,
  lockedIndex: number | null,
): Promise<Observation> {
  const byNode = new Map(read.actives.map((i) => [i.node, i]));
  const filter = compileFilter(config.serviceFilter);
  let names: string[];
  if (!read.complete) names = [...byNode.keys()];
  else if ("nodes" in p.actives) {
    names = p.actives.nodes.filter((n) => !filter || filter.test(n));
  } else {
    const remembered = Object.entries(state.nodes).filter(([, m]) => m.seen).map(([n]) => n);
    names = [...new Set([...byNode.keys(), ...remembered])];
  }
  const dc = "datacenter" in p.actives ? p.actives.datacenter : undefined;
  const gaps = names.some((n) => !byNode.has(n)) && dc === undefined;
  const [members, beats] = await Promise.all([
    gaps && facts.members ? facts.members() : null,
    facts.heartbeats?.(heartbeatPrefix(config.servicePrefix, consulService), dc) ?? null,
  ]);
  const actives = names.map((node): ActiveObservation => {
    const i = byNode.get(node);
    return {
      node,
      instance: i
        ? {
          passing: i.passing,
          nodeHealthy: i.nodeHealthy !== false,
          pending: i.pending,
          unknown: i.unknown === true,
          failing: i.failing,
          checksIndex: i.checksIndex,
        }
        : null,
      member: members?.get(node) ?? null,
      heartbeat: beats === null ? undefined : beats.beats.get(node) ?? null,
      mark: beats === null ? undefined : beats.marks.get(node) ?? null,
    };
  });
  return { actives, lockedIndex };
}

/** This node's own health, from the local answer when it lists this node, else asked. */
async function selfHealth(
  facts: ClusterFacts,
  node: string,
  read: ActivesRead,
): Promise<TakeoverInput["self"]> {
  const mine = read.local?.find((i) => i.node === node);
  if (mine && mine.nodeHealthy !== undefined) {
    return { healthy: mine.nodeHealthy, detail: (mine.nodeFailing ?? []).join("+") };
  }
  if (!facts.nodeHealth) return { healthy: true, detail: "" };
  try {
    return await facts.nodeHealth(node);
  } catch {
    return null;
  }
}

/** Who locked the document: the history's newest document change; null when unreadable. */
async function lockedByOf(facts: ClusterFacts, key: string): Promise<HistoryAction | null> {
  try {
    return newestDocChange((await facts.kvGet(key))?.value ?? null);
  } catch {
    return null;
  }
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
  const history = { key: historyKeyFor(config, consulService), service: consulService };
  if (placement.kind !== "standby") {
    return {
      key,
      entry,
      doc,
      node,
      placement,
      actives: [],
      decision: decide(placement),
      takeover: null,
      history,
    };
  }
  const [read, memory] = await Promise.all([
    activesHealth(facts, config, consulService, placement),
    facts.takeover?.(consulService, node) ?? null,
  ]);
  const actives = read.actives.map((a) => ({
    ...a,
    settled: a.checksIndex > docIndex || a.claimsActive,
  }));
  if (memory === null) {
    return {
      key,
      entry,
      doc,
      node,
      placement,
      actives,
      decision: decide(placement, actives),
      takeover: null,
      history,
    };
  }
  const timing = timingOf(config);
  const obs = await observation(
    facts,
    config,
    consulService,
    placement,
    read,
    memory.state,
    placement.lock ? docIndex : null,
  );
  const state = observe(memory.state, memory.now, obs, timing);
  const anyPassing = Object.values(state.nodes).some((m) => m.class === "passing");
  const self = anyPassing ? { healthy: true, detail: "" } : await selfHealth(facts, node, read);
  // who locked the document matters only while no active passes (role_observed.ts)
  const lockedBy = placement.lock && !anyPassing ? await lockedByOf(facts, history.key) : null;
  const decision = decide(placement, actives, {
    state,
    now: memory.now,
    timing,
    self,
    lockedBy,
  });
  return { key, entry, doc, node, placement, actives, decision, takeover: state, history };
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
