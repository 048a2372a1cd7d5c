/**
 * Cluster documents, parsed once into an immutable shape. Everything here is pure.
 *
 *   {"active_nodes": [...], "standby_nodes": [...]}              node level
 *   {"active_datacenter": "dc1", "standby_datacenter": "dc2"}    datacenter level
 *   {"filter": {"<node regex>": <one of the above>, ...}}         per node group
 *   any of them may carry "lock": true (a switch is under way)
 */
import { ClusterError } from "../errors.ts";
import { compilePattern } from "../pattern.ts";

export type GroupSpec =
  | { mode: "all-active" }
  | { mode: "nodes"; active: string[]; standby: string[] }
  | { mode: "datacenters"; active: string; standby: string };

export interface Group {
  spec: GroupSpec;
  lock: boolean;
}

export type ClusterDoc =
  | { kind: "single"; group: Group; raw: Record<string, unknown> }
  | {
    kind: "filter";
    groups: { pattern: string; regex: RegExp; group: Group }[];
    lock: boolean;
    raw: Record<string, unknown>;
  };

/** The group that applies to one node, and where it sits in the document. */
export interface Selected {
  group: Group;
  /** The filter pattern that matched, for filter documents. */
  pattern?: string;
  /** Lock on the group or on the whole document. */
  lock: boolean;
}

const NODE_KEYS = ["active_nodes", "standby_nodes"];
const DC_KEYS = ["active_datacenter", "standby_datacenter"];

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function parseLock(v: unknown, where: string): boolean {
  if (v === undefined || v === false || v === null) return false;
  if (v === true) return true;
  throw new ClusterError(`${where}: "lock" must be true or false`);
}

function parseGroup(o: Record<string, unknown>, where: string): Group {
  const hasNode = NODE_KEYS.filter((k) => k in o);
  const hasDc = DC_KEYS.filter((k) => k in o);
  const lock = parseLock(o.lock, where);
  if (hasNode.length > 0 && hasDc.length > 0) {
    throw new ClusterError(`${where}: has both node fields and datacenter fields; use one kind`);
  }
  if (hasNode.length === 1 || hasDc.length === 1) {
    const missing = [...NODE_KEYS, ...DC_KEYS].find((k) =>
      (hasNode.length ? NODE_KEYS : DC_KEYS).includes(k) && !(k in o)
    );
    throw new ClusterError(`${where}: "${missing}" is missing (active and standby go together)`);
  }
  if (hasNode.length === 2) {
    const list = (k: string) => {
      const v = o[k];
      if (!Array.isArray(v) || v.some((x) => typeof x !== "string" || x === "")) {
        throw new ClusterError(`${where}: "${k}" must be a list of node names`);
      }
      return [...new Set(v as string[])];
    };
    const active = list("active_nodes");
    const standby = list("standby_nodes");
    const both = active.filter((n) => standby.includes(n));
    if (both.length > 0) {
      throw new ClusterError(`${where}: node ${both[0]} is in both active_nodes and standby_nodes`);
    }
    if (active.length === 0 && standby.length === 0) {
      throw new ClusterError(`${where}: active_nodes and standby_nodes are both empty`);
    }
    return { spec: { mode: "nodes", active, standby }, lock };
  }
  if (hasDc.length === 2) {
    const dc = (k: string) => {
      const v = o[k];
      if (typeof v !== "string" || v === "") {
        throw new ClusterError(`${where}: "${k}" must be a datacenter name`);
      }
      return v;
    };
    const active = dc("active_datacenter");
    const standby = dc("standby_datacenter");
    if (active === standby) {
      throw new ClusterError(
        `${where}: active_datacenter and standby_datacenter are both ${active}`,
      );
    }
    return { spec: { mode: "datacenters", active, standby }, lock };
  }
  return { spec: { mode: "all-active" }, lock };
}

/**
 * Far deeper than any cluster document (a filter document is 4 levels). Beyond a few thousand
 * levels the copies made for a flip (structuredClone, JSON.stringify) overflow the stack, and a
 * valid-looking document would end in "Maximum call stack size exceeded" instead of a clear line.
 */
const MAX_DEPTH = 64;

/** Whether a parsed JSON value nests arrays/objects deeper than `limit` (iterative). */
function nestsDeeperThan(v: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[v, 1]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (x === null || typeof x !== "object") continue;
    if (d > limit) return true;
    for (const y of Object.values(x)) stack.push([y, d + 1]);
  }
  return false;
}

/** Parse a KV value into a ClusterDoc, or throw ClusterError saying what is wrong. */
export function parseClusterDoc(text: string, where = "cluster document"): ClusterDoc {
  if (text.trim() === "") throw new ClusterError(`${where} is empty`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ClusterError(`${where} is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(raw)) throw new ClusterError(`${where} must be a JSON object`);
  if (nestsDeeperThan(raw, MAX_DEPTH)) {
    throw new ClusterError(`${where} nests deeper than ${MAX_DEPTH} levels`);
  }
  if ("filter" in raw) {
    const f = raw.filter;
    if (!isObject(f) || Object.keys(f).length === 0) {
      throw new ClusterError(`${where}: "filter" must be an object of node regex → document`);
    }
    const stray = [...NODE_KEYS, ...DC_KEYS].find((k) => k in raw);
    if (stray) throw new ClusterError(`${where}: "${stray}" cannot sit beside "filter"`);
    const groups = Object.entries(f).map(([pattern, sub]) => {
      const w = `${where} filter "${pattern}"`;
      let regex: RegExp;
      try {
        regex = compilePattern(`^(?:${pattern})`);
      } catch {
        throw new ClusterError(`${w}: not a valid regular expression`);
      }
      if (!isObject(sub)) throw new ClusterError(`${w}: must be a cluster document object`);
      if ("filter" in sub) throw new ClusterError(`${w}: filters do not nest`);
      return { pattern, regex, group: parseGroup(sub, w) };
    });
    return { kind: "filter", groups, lock: parseLock(raw.lock, where), raw };
  }
  return { kind: "single", group: parseGroup(raw, where), raw };
}

/** The group for `node`: the first filter (document order) whose regex matches from the start. */
export function selectGroup(doc: ClusterDoc, node: string): Selected {
  if (doc.kind === "single") return { group: doc.group, lock: doc.group.lock };
  for (const g of doc.groups) {
    if (g.regex.test(node)) {
      return { group: g.group, pattern: g.pattern, lock: doc.lock || g.group.lock };
    }
  }
  throw new ClusterError(
    `node ${node} matches no filter of the cluster document (${
      doc.groups.map((g) => g.pattern).join(", ")
    })`,
  );
}

function editGroup(
  doc: ClusterDoc,
  pattern: string | undefined,
  edit: (g: Record<string, unknown>) => Record<string, unknown>,
): Record<string, unknown> {
  const raw = structuredClone(doc.raw);
  if (doc.kind === "single") return edit(raw);
  const filter = raw.filter as Record<string, Record<string, unknown>>;
  if (pattern === undefined || !(pattern in filter)) {
    throw new ClusterError(`no filter "${pattern}" in the cluster document`);
  }
  filter[pattern] = edit(filter[pattern]!);
  return raw;
}

/**
 * The document after `winner` (a standby of the selected group) takes over, locked. The number
 * of actives is kept: the winner, then the standbys that follow it in document order (wrapping
 * round), as many as there were actives; everyone else is a standby in document order, the old
 * actives first. Without a winner every standby becomes active (an operator's whole swap).
 * Datacenter-level groups swap their two datacenters. Every other field is kept as it was.
 */
export function flippedDoc(
  doc: ClusterDoc,
  pattern?: string,
  winner?: string,
): Record<string, unknown> {
  return editGroup(doc, pattern, (g) => {
    const out = { ...g };
    if ("active_nodes" in g) {
      const active = g.active_nodes as string[];
      const standby = g.standby_nodes as string[];
      const at = winner === undefined ? -1 : standby.indexOf(winner);
      if (winner !== undefined && at < 0) {
        throw new ClusterError(`node ${winner} is not a standby of the cluster document`);
      }
      const order = at < 0 ? standby : [...standby.slice(at), ...standby.slice(0, at)];
      const next = at < 0 ? standby : order.slice(0, Math.max(1, active.length));
      out.active_nodes = next;
      out.standby_nodes = [...active, ...standby.filter((n) => !next.includes(n))];
    } else if ("active_datacenter" in g) {
      out.active_datacenter = g.standby_datacenter;
      out.standby_datacenter = g.active_datacenter;
    } else {
      throw new ClusterError("an all-active document has no roles to swap");
    }
    out.lock = true;
    return out;
  });
}

/** The document with the selected group's lock (and a document-wide lock) removed. */
export function unlockedDoc(doc: ClusterDoc, pattern?: string): Record<string, unknown> {
  const raw = editGroup(doc, pattern, (g) => {
    const out = { ...g };
    delete out.lock;
    return out;
  });
  delete raw.lock;
  return raw;
}

/** The document with explicit roles and a lock (start-primary's swap). */
export function withRoles(
  doc: ClusterDoc,
  pattern: string | undefined,
  roles: { active: string[]; standby: string[] } | { activeDc: string; standbyDc: string },
  lock: boolean,
): Record<string, unknown> {
  return editGroup(doc, pattern, (g) => {
    const out = { ...g };
    if ("active" in roles) {
      out.active_nodes = roles.active;
      out.standby_nodes = roles.standby;
    } else {
      out.active_datacenter = roles.activeDc;
      out.standby_datacenter = roles.standbyDc;
    }
    if (lock) out.lock = true;
    else delete out.lock;
    return out;
  });
}

/** Stable text for a document (for KV writes and comparisons). */
export function docText(raw: Record<string, unknown>): string {
  return JSON.stringify(raw);
}

/** Whether two raw documents say the same thing (key order ignored). */
export function sameDoc(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (isObject(v)) {
    return `{${
      Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(",")
    }}`;
  }
  return JSON.stringify(v);
}
