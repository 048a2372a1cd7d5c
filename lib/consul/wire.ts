/**
 * Consul's wire format, without the HTTP client: base64 of UTF-8, KV pairs, and the shape
 * checks every answer passes before anything reads it. Pure; pure modules import this instead
 * of the client. A shape check returns a description of what is wrong, or null.
 */
import type { WireKvPair, WireService } from "./types.ts";

export interface KvEntry {
  key: string;
  /** Decoded UTF-8 value; null when the key exists with an empty value. */
  value: string | null;
  modifyIndex: number;
  createIndex: number;
  lockIndex: number;
  flags: number;
  session: string | null;
}

/** base64 of UTF-8 (for txn bodies) and back. */
export function b64encode(s: string): string {
  const bytes = new TextEncoder().encode(s);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

export function b64decode(s: string): string {
  const bin = atob(s);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

export function decodeKv(p: WireKvPair): KvEntry {
  return {
    key: p.Key,
    value: p.Value === null || p.Value === undefined ? null : b64decode(p.Value),
    modifyIndex: p.ModifyIndex,
    createIndex: p.CreateIndex,
    lockIndex: p.LockIndex ?? 0,
    flags: p.Flags ?? 0,
    session: p.Session ? p.Session : null,
  };
}

type Shape = (v: unknown) => string | null;

const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** An object whose named fields have the given typeof (a trailing "?" allows absent/null). */
export function fields(spec: Record<string, string>): Shape {
  return (v) => {
    if (!isObj(v)) return `expected an object, got ${kindOf(v)}`;
    for (const [name, want] of Object.entries(spec)) {
      const optional = want.endsWith("?");
      const type = optional ? want.slice(0, -1) : want;
      const got = Object.hasOwn(v, name) ? v[name] : undefined;
      if (optional && (got === undefined || got === null)) continue;
      const ok = type === "array"
        ? Array.isArray(got)
        : type === "object"
        ? isObj(got)
        : kindOf(got) === type;
      if (!ok) return `field ${name} should be ${type}, got ${kindOf(got)}`;
    }
    return null;
  };
}

export function arrayOf(item: Shape): Shape {
  return (v) => {
    if (!Array.isArray(v)) return `expected an array, got ${kindOf(v)}`;
    for (const [i, x] of v.entries()) {
      const why = item(x);
      if (why) return `element ${i}: ${why}`;
    }
    return null;
  };
}

export function mapOf(item: Shape): Shape {
  return (v) => {
    if (!isObj(v)) return `expected an object, got ${kindOf(v)}`;
    for (const [k, x] of Object.entries(v)) {
      const why = item(x);
      if (why) return `${JSON.stringify(k)}: ${why}`;
    }
    return null;
  };
}

export function both(a: Shape, b: Shape): Shape {
  return (v) => a(v) ?? b(v);
}

/** A nested object field checked by its own shape. */
export function nested(name: string, inner: Shape): Shape {
  return (v) => {
    if (!isObj(v)) return `expected an object, got ${kindOf(v)}`;
    const why = inner(v[name]);
    return why ? `${name}: ${why}` : null;
  };
}

function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v;
}

export const SHAPES = {
  kvPairs: arrayOf(
    fields({ Key: "string", ModifyIndex: "number", CreateIndex: "number", Value: "string?" }),
  ),
  check: fields({
    CheckID: "string",
    Status: "string",
    Node: "string?",
    ServiceName: "string?",
    Output: "string?",
  }),
  service: fields({
    ID: "string",
    Service: "string",
    Tags: "array?",
    Port: "number?",
    Meta: "object?",
  }),
  datacenters: arrayOf((
    v,
  ) => (typeof v === "string" ? null : `expected a string, got ${kindOf(v)}`)),
  agentSelf: nested("Config", fields({ NodeName: "string", Datacenter: "string" })),
  session: fields({ ID: "string" }),
} as const;

/** `/v1/health/service/<svc>`: entries with a node, a service and their checks. */
export const HEALTH_ENTRIES: Shape = arrayOf(
  both(
    nested("Node", fields({ Node: "string", Datacenter: "string" })),
    both(nested("Service", SHAPES.service), nested("Checks", arrayOf(SHAPES.check))),
  ),
);

export const AGENT_CHECKS: Shape = mapOf(SHAPES.check);

/** `/v1/agent/members`: gossip members (Status 1 alive, 3 left, 4 failed; Tags.role "consul" on servers). */
export const MEMBERS: Shape = arrayOf(
  fields({ Name: "string", Status: "number", Tags: "object?" }),
);

/** `/v1/health/node/<node>`: the node's checks. */
export const NODE_CHECKS: Shape = arrayOf(SHAPES.check);

/** Members as the lease's outage rule reads them (pure). */
export interface Member {
  name: string;
  /** Serf's status as a word; null for a code we do not know (never acted on). */
  status: ReturnType<typeof memberStatus>;
  alive: boolean;
  server: boolean;
}

export function decodeMembers(
  data: { Name: string; Status: number; Tags?: Record<string, string> | null }[],
): Member[] {
  return data.map((m) => ({
    name: m.Name,
    status: memberStatus(m.Status),
    alive: m.Status === 1,
    server: (m.Tags ?? {}).role === "consul",
  }));
}

/** Serf's member status codes as words (anything else: null, not to be acted on). */
export function memberStatus(code: number): "alive" | "leaving" | "left" | "failed" | null {
  return code === 1
    ? "alive"
    : code === 2
    ? "leaving"
    : code === 3
    ? "left"
    : code === 4
    ? "failed"
    : null;
}

export const AGENT_SERVICE_HEALTH: Shape = arrayOf(
  both(
    fields({ AggregatedStatus: "string", Service: "object", Checks: "array?" }),
    both(nested("Service", SHAPES.service), (v) => {
      const checks = (v as Record<string, unknown>).Checks;
      return checks ? arrayOf(SHAPES.check)(checks) : null;
    }),
  ),
);

/** Fields of an agent's service answer that a registration must not carry back. */
const READ_ONLY = new Set(["Service", "CreateIndex", "ModifyIndex", "ContentHash", "Datacenter"]);

/** The registration that gives `svc` new tags and changes nothing else (pure). */
export function registrationBody(svc: WireService, tags: string[]): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(svc as unknown as Record<string, unknown>)) {
    if (!READ_ONLY.has(k) && v !== null && v !== undefined) body[k] = v;
  }
  body.Name = svc.Service;
  body.Tags = tags;
  return body;
}

/**
 * The catalog registration that gives `svc` on `node` new tags (pure): the agent registration's
 * fields under the catalog's names, the node itself left as it is (`SkipNodeUpdate`).
 */
export function catalogTagsBody(
  svc: WireService,
  tags: string[],
  node: string,
): Record<string, unknown> {
  const { Name, ...rest } = registrationBody(svc, tags);
  return { Node: node, SkipNodeUpdate: true, Service: { ...rest, Service: Name } };
}

/** One KV operation of a transaction (`/v1/txn`); values are plain text, encoded here. */
export type TxnOp =
  | { verb: "set"; key: string; value: string }
  | { verb: "cas"; key: string; value: string; index: number }
  | { verb: "delete-cas"; key: string; index: number }
  | { verb: "check-index"; key: string; index: number };

/** A read in a transaction: one key (`get`: the transaction fails if it is missing) or a prefix. */
export type TxnRead = { verb: "get" | "get-tree"; key: string };

/** The request body for a list of operations (pure). */
export function txnBody(ops: readonly (TxnOp | TxnRead)[]): unknown[] {
  return ops.map((op) => {
    const kv: Record<string, unknown> = { Verb: op.verb, Key: op.key };
    if ("value" in op) kv.Value = b64encode(op.value);
    if ("index" in op) kv.Index = op.index;
    return { KV: kv };
  });
}

/** A transaction's answer: 200 with Results, or 409 (rolled back) with Errors. */
export const TXN_ANSWER: Shape = fields({ Results: "array?", Errors: "array?" });
export const TXN_ERRORS: Shape = arrayOf(fields({ OpIndex: "number", What: "string" }));

/**
 * Whether a rolled-back operation's reason is a check that did not hold ("failed to set key
 * \"k\", index is stale", "current modify index 5 != 4", "key \"k\" doesn't exist"), as
 * opposed to a refusal such as an ACL denial.
 */
export function txnCasFailure(what: string): boolean {
  return /index is stale|modify index|doesn't exist|does not exist/i.test(what);
}
