/**
 * The I/O around role resolution: read the cluster document and the health of the actives
 * from Consul, then call the pure place()/decide(). Also the two cluster-document writes a
 * check may make (-U flip, lock clear), both check-and-set on the index the decision was made on.
 */
import type { Config } from "../config.ts";
import { ConsulClient, type Instance, type KvEntry } from "../consul/client.ts";
import { ClusterError } from "../errors.ts";
import {
  type ClusterDoc,
  docText,
  flippedDoc,
  parseClusterDoc,
  sameDoc,
  unlockedDoc,
} from "./doc.ts";
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
}

export interface Identity {
  node: string;
  datacenter?: string;
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

export function clusterKeyFor(config: Config, consulService: string): string | null {
  return config.clusterKey ? `${config.clusterKey}/${consulService}` : null;
}

/** Read and parse the cluster document for a service (null doc when absent or no clusterKey). */
export async function readClusterDoc(
  consul: ConsulClient,
  config: Config,
  consulService: string,
  dc?: string,
): Promise<{ key: string | null; entry: KvEntry | null; doc: ClusterDoc | null }> {
  const key = clusterKeyFor(config, consulService);
  if (key === null) return { key, entry: null, doc: null };
  const entry = await consul.kvGet(key, dc ? { dc } : {});
  if (entry === null) return { key, entry, doc: null };
  return { key, entry, doc: parseClusterDoc(entry.value ?? "", `cluster document ${key}`) };
}

/** Health of the instances that count as actives for a placement. */
export async function activesHealth(
  consul: ConsulClient,
  config: Config,
  consulService: string,
  p: Placement,
  id: IdentityCache,
): Promise<Instance[]> {
  if (p.kind !== "standby" && p.kind !== "active") return [];
  const filter = compileFilter(config.serviceFilter);
  if ("datacenter" in p.actives) {
    const all = await consul.serviceHealth(consulService, { dc: p.actives.datacenter });
    return relevantActives(p, all, filter);
  }
  // Node-level documents look across every datacenter; the local one first, because one
  // passing active there settles it with a single request.
  const all = await consul.serviceHealth(consulService);
  const local = relevantActives(p, all, filter);
  if (local.some((i) => i.passing)) return local;
  // The local answer names our datacenter (our own instance is in it): one request saved.
  const here = all[0]?.datacenter ?? await id.datacenter();
  const others = (await consul.datacenters()).filter((dc) => dc !== here);
  const rest = await Promise.all(
    others.map((dc) => consul.serviceHealth(consulService, { dc })),
  );
  return [...local, ...rest.flatMap((r) => relevantActives(p, r, filter))];
}

/** Resolve the local node's role for a Consul service. Throws on any unknown state. */
export async function resolveCluster(
  consul: ConsulClient,
  config: Config,
  consulService: string,
  id: IdentityCache,
): Promise<ClusterView> {
  const { key, entry, doc } = await readClusterDoc(consul, config, consulService);
  const node = doc ? await id.node() : (config.nodeName ?? "");
  let placement: Placement;
  if (doc && needsDatacenters(doc, node)) {
    const [dc, dcs] = await Promise.all([id.datacenter(), consul.datacenters()]);
    placement = place({ doc, node, datacenter: dc, datacenters: dcs });
  } else {
    placement = place({ doc, node, datacenter: "" });
  }
  const docIndex = entry?.modifyIndex ?? 0;
  const actives = placement.kind === "standby"
    ? (await activesHealth(consul, config, consulService, placement, id)).map((a) => ({
      ...a,
      settled: a.checksIndex > docIndex || a.claimsActive,
    }))
    : [];
  return { key, entry, doc, node, placement, actives, decision: decide(placement, actives) };
}

function needsDatacenters(doc: ClusterDoc, node: string): boolean {
  try {
    const g = doc.kind === "single" ? doc.group : doc.groups.find((x) => x.regex.test(node))?.group;
    return g?.spec.mode === "datacenters";
  } catch {
    return false;
  }
}

export interface WriteOutcome {
  /** The local datacenter's write succeeded. */
  won: boolean;
  /** One line per datacenter written or skipped. */
  notes: string[];
}

/**
 * Write `next` in place of the document the view was read from, check-and-set on that read's
 * ModifyIndex (a stale decision can never overwrite a newer document), then copy it to every
 * other datacenter whose copy still matches what we read (also CAS). A lost race is reported.
 */
export async function casClusterDoc(
  consul: ConsulClient,
  view: ClusterView,
  next: Record<string, unknown>,
  id: IdentityCache,
): Promise<WriteOutcome> {
  if (!view.key || !view.entry || !view.doc) throw new ClusterError("no cluster document to write");
  const notes: string[] = [];
  const won = await consul.kvPut(view.key, docText(next), { cas: view.entry.modifyIndex });
  if (!won) {
    notes.push(
      `lost the race: ${view.key} changed since index ${view.entry.modifyIndex}; not retried`,
    );
    return { won, notes };
  }
  notes.push(`wrote ${view.key} (cas ${view.entry.modifyIndex})`);
  let dcs: string[] = [];
  let here = "";
  try {
    [here, dcs] = await Promise.all([id.datacenter(), consul.datacenters()]);
  } catch (e) {
    notes.push(`other datacenters not updated: ${(e as Error).message}`);
    return { won, notes };
  }
  for (const dc of dcs.filter((d) => d !== here)) {
    try {
      const theirs = await consul.kvGet(view.key, { dc });
      if (theirs === null) {
        notes.push(`${dc}: no copy of ${view.key}, left alone`);
        continue;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(theirs.value ?? "");
      } catch {
        notes.push(`${dc}: copy is not valid JSON, left alone`);
        continue;
      }
      if (sameDoc(parsed, next)) {
        notes.push(`${dc}: already up to date`);
      } else if (sameDoc(parsed, view.doc.raw)) {
        const ok = await consul.kvPut(view.key, docText(next), { dc, cas: theirs.modifyIndex });
        notes.push(
          ok ? `${dc}: written (cas ${theirs.modifyIndex})` : `${dc}: lost the race, left alone`,
        );
      } else {
        notes.push(`${dc}: copy differs from what this decision was based on, left alone`);
      }
    } catch (e) {
      notes.push(`${dc}: not updated (${(e as Error).message})`);
    }
  }
  return { won, notes };
}

export function flipFor(view: ClusterView): Record<string, unknown> {
  if (!view.doc) throw new ClusterError("no cluster document to flip");
  return flippedDoc(
    view.doc,
    view.placement.kind === "standby" ? view.placement.pattern : undefined,
  );
}

export function unlockFor(view: ClusterView): Record<string, unknown> {
  if (!view.doc) throw new ClusterError("no cluster document to unlock");
  const pattern = view.placement.kind === "standby" || view.placement.kind === "active"
    ? view.placement.pattern
    : undefined;
  return unlockedDoc(view.doc, pattern);
}
