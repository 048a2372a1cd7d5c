/**
 * The cluster view behind `powerconsul status` and `service <name> status`: for each cluster
 * document, its mode, the active and standby instances with their health, the lock, pending
 * promote/demote flags, a running switch, and this node's role. Gathering does the I/O; building
 * the rows is pure (the table is lib/status/table.ts).
 */
import { triggerLimitReached } from "../triggers/limit.ts";
import { type LeaseRow, localLease } from "./lease.ts";
import { type ClusterDoc, type Group, parseClusterDoc, selectGroup } from "../cluster/doc.ts";
import {
  clusterKeyFor,
  clusterPrefixFor,
  type IdentityCache,
  LiveFacts,
} from "../cluster/facts.ts";
import type { Instance } from "../cluster/health.ts";
import { compileFilter } from "../cluster/role.ts";
import { readClusterView } from "../cluster/view.ts";
import { pausedState, pauseKeyFor, pauseSentence } from "../ops/pause.ts";
import type { Config } from "../config.ts";
import type { ConsulClient, KvEntry } from "../consul/client.ts";
import { describeError } from "../errors.ts";
import {
  parseSwitchHolder,
  roleKeyPrefix,
  roleKeysFromEntries,
  switchLockKey,
} from "../service/role_keys.ts";

export interface InstanceRow {
  node: string;
  datacenter: string | null;
  /** The service is registered on that node (in a datacenter the catalog knows). */
  registered: boolean;
  passing: boolean;
  /** Checks not passing, `<CheckID>=<status>`. */
  failing: string[];
  /** Its checks have not run yet. */
  pending: boolean;
}

export interface GroupRow {
  /** The filter pattern, for filter documents. */
  pattern: string | null;
  mode: "nodes" | "datacenters" | "all-active";
  lock: boolean;
  activeDatacenter?: string;
  standbyDatacenter?: string;
  active: InstanceRow[];
  standby: InstanceRow[];
}

export interface FlagRow {
  node: string;
  promote: string;
  demote: string;
}

export interface ThisNode {
  role: string | null;
  /** primary | secondary | secondary-acting-primary | secondary-waiting | standalone */
  state: string | null;
  reason: string;
}

export interface ServiceRow {
  service: string;
  key: string | null;
  mode: "nodes" | "datacenters" | "filter" | "all-active" | "standalone" | "error";
  lock: boolean;
  groups: GroupRow[];
  /** Every flag that is not NULL. */
  pendingFlags: FlagRow[];
  /** The running start-primary holding the switch lock, if any. */
  switching: string | null;
  thisNode: ThisNode;
  error: string | null;
  /** "trigger limit reached: …" when this node's triggers for the service stopped acting. */
  triggerLimit?: string | null;
  /** "paused: <reason> (by … at …)" while the service is paused cluster-wide. */
  paused?: string | null;
  /** This node's lease for the service (lib/ha/lease.ts), when it has one. */
  lease?: LeaseRow | null;
  /** "fenced: lease expired at … (services stopped by the guard at …)" while fenced. */
  fenced?: string | null;
}

export interface StatusReport {
  node: string;
  datacenter: string;
  clusterKey: string | null;
  services: ServiceRow[];
}

function toRow(node: string, inst: Instance[]): InstanceRow {
  const mine = inst.filter((i) => i.node === node);
  if (mine.length === 0) {
    return {
      node,
      datacenter: null,
      registered: false,
      passing: false,
      failing: [],
      pending: false,
    };
  }
  const failing = mine.flatMap((i) => i.failing);
  return {
    node,
    datacenter: mine[0]!.datacenter,
    registered: true,
    passing: mine.every((i) => i.passing),
    failing: [...new Set(failing)],
    pending: !mine.every((i) => i.passing) && mine.every((i) => i.passing || i.pending),
  };
}

function groupRow(
  g: Group,
  pattern: string | null,
  instances: Instance[],
  filter: RegExp | null,
): GroupRow {
  const seen = instances.filter((i) => !filter || filter.test(i.node));
  const spec = g.spec;
  const base = { pattern, lock: g.lock };
  if (spec.mode === "nodes") {
    return {
      ...base,
      mode: "nodes",
      active: spec.active.map((n) => toRow(n, seen)),
      standby: spec.standby.map((n) => toRow(n, seen)),
    };
  }
  if (spec.mode === "datacenters") {
    const inDc = (dc: string) => {
      const nodes = [...new Set(seen.filter((i) => i.datacenter === dc).map((i) => i.node))];
      return nodes.map((n) => toRow(n, seen.filter((i) => i.datacenter === dc)));
    };
    return {
      ...base,
      mode: "datacenters",
      activeDatacenter: spec.active,
      standbyDatacenter: spec.standby,
      active: inDc(spec.active),
      standby: inDc(spec.standby),
    };
  }
  const nodes = [...new Set(seen.map((i) => i.node))];
  return {
    ...base,
    mode: "all-active",
    active: nodes.map((n) => toRow(n, seen)),
    standby: [],
  };
}

/** Groups of a document, in document order (filter groups keep only matching instances). */
export function buildGroups(
  doc: ClusterDoc,
  instances: Instance[],
  serviceFilter: string | null,
): GroupRow[] {
  const filter = compileFilter(serviceFilter);
  if (doc.kind === "single") return [groupRow(doc.group, null, instances, filter)];
  // A node belongs to the group the document selects for it (none: shown in no group).
  const owner = (node: string) => {
    try {
      return selectGroup(doc, node).pattern;
    } catch {
      return undefined;
    }
  };
  return doc.groups.map((g) => {
    const row = groupRow(
      g.group,
      g.pattern,
      g.group.spec.mode === "nodes"
        ? instances
        : instances.filter((i) => owner(i.node) === g.pattern),
      filter,
    );
    if (doc.lock) row.lock = true;
    return row;
  });
}

export function pendingFlagRows(prefix: string, entries: KvEntry[]): FlagRow[] {
  const flags = roleKeysFromEntries(prefix, entries);
  const out: FlagRow[] = [];
  for (const [node, f] of [...flags.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const promote = f.promote ?? "NULL";
    const demote = f.demote ?? "NULL";
    if (promote !== "NULL" || demote !== "NULL") out.push({ node, promote, demote });
  }
  return out;
}

export interface GatherOptions {
  /** One service only (-S); otherwise every document under clusterKey. */
  consulService?: string;
  id: IdentityCache;
}

/** Read everything the view needs. A broken document becomes an error row, never a throw. */
export async function gatherStatus(
  consul: ConsulClient,
  config: Config,
  opts: GatherOptions,
): Promise<StatusReport> {
  const [node, datacenter] = await Promise.all([opts.id.node(), opts.id.datacenter()]);
  const report: StatusReport = { node, datacenter, clusterKey: config.clusterKey, services: [] };
  let docs: { service: string; entry: KvEntry | null }[];
  const prefix = clusterPrefixFor(config);
  if (prefix === null) {
    docs = opts.consulService ? [{ service: opts.consulService, entry: null }] : [];
  } else if (opts.consulService) {
    const key = clusterKeyFor(config, opts.consulService)!;
    docs = [{ service: opts.consulService, entry: await consul.kvGet(key) }];
  } else {
    const { entries } = await consul.kvList(prefix);
    docs = entries
      .filter((e) => e.key.length > prefix.length && !e.key.endsWith("/"))
      .map((e) => ({ service: e.key.slice(prefix.length), entry: e }));
  }
  let dcs: string[] | null = null;
  const allDcs = async () => (dcs ??= await consul.datacenters());
  for (const d of docs) {
    const row = await serviceRow(consul, config, d.service, d.entry, opts.id, allDcs);
    row.triggerLimit = (await triggerLimitReached(config, d.service))?.message ?? null;
    // only when there is one: rows of nodes without a lease read as before
    const local = await localLease(d.service, node);
    if (local.lease) row.lease = local.lease;
    if (local.fenced) row.fenced = local.fenced;
    report.services.push(row);
  }
  return report;
}

async function serviceRow(
  consul: ConsulClient,
  config: Config,
  service: string,
  entry: KvEntry | null,
  id: IdentityCache,
  allDcs: () => Promise<string[]>,
): Promise<ServiceRow> {
  const key = clusterKeyFor(config, service);
  const row: ServiceRow = {
    service,
    key,
    mode: "standalone",
    lock: false,
    groups: [],
    pendingFlags: [],
    switching: null,
    thisNode: { role: null, state: null, reason: "" },
    error: null,
  };
  try {
    const prefix = roleKeyPrefix(config.servicePrefix, service);
    const { entries } = await consul.kvList(prefix);
    // A flag lives in its node's datacenter: look at the others' KV too (best effort).
    const here = await id.datacenter();
    const others = (await allDcs()).filter((dc) => dc !== here);
    const remote = await Promise.all(
      others.map((dc) => consul.kvList(prefix, { dc }).then((r) => r.entries).catch(() => [])),
    );
    row.pendingFlags = pendingFlagRows(prefix, [...entries, ...remote.flat()]);
    const pause = pausedState(entries.find((e) => e.key === pauseKeyFor(config, service)) ?? null);
    row.paused = pause.paused ? pauseSentence(pause) : null;
    const sw = entries.find((e) => e.key === switchLockKey(config.servicePrefix, service));
    if (sw?.session) {
      const h = parseSwitchHolder(sw.value);
      row.switching = h
        ? `${h.action} on ${h.node} since ${h.at}`
        : "start-primary (holder unknown)";
    }
    if (entry === null) {
      row.thisNode = { role: "standalone", state: "standalone", reason: "no cluster document" };
      return row;
    }
    let doc: ClusterDoc;
    try {
      doc = parseClusterDoc(entry.value ?? "", `cluster document ${entry.key}`);
    } catch (e) {
      row.mode = "error";
      row.error = describeError(e);
      return row;
    }
    row.mode = doc.kind === "filter" ? "filter" : doc.group.spec.mode;
    row.lock = doc.kind === "filter"
      ? doc.lock || doc.groups.some((g) => g.group.lock)
      : doc.group.lock;
    const needsDcs = doc.kind === "filter" || doc.group.spec.mode !== "all-active";
    const dcList = needsDcs ? await allDcs() : [];
    const facts = new LiveFacts(consul, id);
    const health = await Promise.all(
      (dcList.length ? dcList : [undefined]).map((dc) => facts.serviceHealth(service, dc)),
    );
    row.groups = buildGroups(doc, health.flat(), config.serviceFilter);
    try {
      const d = (await readClusterView(facts, config, service)).decision;
      row.thisNode = { role: d.role, state: d.stance, reason: d.reason };
    } catch (e) {
      row.thisNode = { role: null, state: null, reason: describeError(e) };
    }
  } catch (e) {
    row.mode = "error";
    row.error = describeError(e);
  }
  return row;
}
