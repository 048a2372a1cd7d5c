/**
 * A small Consul HTTP client over fetch. Every request has a deadline covering the whole
 * exchange (connect, headers and body). Absence is a value (null), a lost CAS is `false`;
 * everything else that goes wrong is a ConsulError naming the endpoint and status — never the
 * token.
 */
import { PowerconsulError } from "../errors.ts";
import { Exit } from "../exit_codes.ts";
import type {
  WireAgentSelf,
  WireAgentServiceHealth,
  WireHealthEntry,
  WireKvPair,
  WireService,
} from "./types.ts";

export type ConsulErrorKind =
  /** Connection refused, DNS failure, TLS failure. */
  | "unreachable"
  /** No answer within the deadline. */
  | "timeout"
  /** The agent answers but reaches no server: catalog/KV state is unknown (SPEC §5). */
  | "no-server"
  /** 403: ACL denied or unknown token. */
  | "permission"
  /** Any other non-2xx answer. */
  | "http"
  /** 2xx with a body we cannot parse. */
  | "invalid-response";

export class ConsulError extends PowerconsulError {
  constructor(
    message: string,
    readonly kind: ConsulErrorKind,
    readonly endpoint: string,
    readonly status?: number,
  ) {
    super(message, Exit.UNKNOWN);
  }
}

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

export interface LocalService {
  id: string;
  service: WireService;
  node: string | null;
  aggregated: string;
}

export interface ClientOptions {
  /** Base URL, e.g. http://127.0.0.1:8500 (see lib/consul/address.ts). */
  baseUrl: string;
  token?: string;
  timeoutMs: number;
  httpClient?: Deno.HttpClient;
  /** Called once per HTTP request (benchmarks and tests count them). */
  onRequest?: (method: string, path: string) => void;
}

const NO_SERVER = /No known Consul servers|rpc error|No cluster leader|failed to get conn/i;

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

interface RequestOpts {
  method?: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: string;
  /** Statuses that are answers, not errors (e.g. 404 for a missing key). */
  accept?: number[];
  /** Extra time on top of the request timeout (blocking queries). */
  extraMs?: number;
}

export class ConsulClient {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  #token?: string;
  #httpClient?: Deno.HttpClient;
  #onRequest?: (method: string, path: string) => void;

  constructor(opts: ClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, "");
    this.timeoutMs = opts.timeoutMs;
    if (opts.token) this.#token = opts.token;
    if (opts.httpClient) this.#httpClient = opts.httpClient;
    if (opts.onRequest) this.#onRequest = opts.onRequest;
  }

  /** Low-level request: returns status, index header and body text. */
  async request(
    path: string,
    opts: RequestOpts = {},
  ): Promise<{ status: number; index: number; text: string }> {
    const method = opts.method ?? "GET";
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v === undefined || v === false) continue;
      url.searchParams.set(k, v === true ? "" : String(v));
    }
    const endpoint = `${method} ${path}`;
    const headers: Record<string, string> = {};
    if (this.#token) headers["X-Consul-Token"] = this.#token;
    const ms = this.timeoutMs + (opts.extraMs ?? 0);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), ms);
    this.#onRequest?.(method, path);
    try {
      const init: RequestInit & { client?: Deno.HttpClient } = {
        method,
        headers,
        signal: controller.signal,
      };
      if (opts.body !== undefined) init.body = opts.body;
      if (this.#httpClient) init.client = this.#httpClient;
      const res = await fetch(url, init);
      const text = await res.text();
      const index = Number(res.headers.get("X-Consul-Index") ?? 0) || 0;
      if (res.ok || (opts.accept ?? []).includes(res.status)) {
        return { status: res.status, index, text };
      }
      const body = text.trim().split("\n")[0]?.slice(0, 200) ?? "";
      if (res.status === 403) {
        throw new ConsulError(
          `permission denied by Consul ACLs on ${endpoint} (HTTP 403: ${body}); check the token's policy`,
          "permission",
          endpoint,
          403,
        );
      }
      if (res.status === 500 && NO_SERVER.test(body)) {
        throw new ConsulError(
          `Consul agent at ${this.baseUrl} cannot reach a server (${endpoint}: ${body}); cluster state unknown`,
          "no-server",
          endpoint,
          500,
        );
      }
      throw new ConsulError(
        `${endpoint} failed: HTTP ${res.status} ${body}`,
        "http",
        endpoint,
        res.status,
      );
    } catch (e) {
      if (e instanceof ConsulError) throw e;
      if (controller.signal.aborted) {
        throw new ConsulError(
          `Consul agent at ${this.baseUrl} did not answer ${endpoint} within ${ms / 1000}s`,
          "timeout",
          endpoint,
        );
      }
      if (e instanceof Error && e.name === "NotCapable") {
        throw new ConsulError(
          `network access to ${url.host} is not allowed by this binary's sandbox ` +
            `(built for other agent addresses; see POWERCONSUL_NET in the README)`,
          "unreachable",
          endpoint,
        );
      }
      const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : "";
      const reason = e instanceof Error ? `${e.message.split("\n")[0]}${cause}` : String(e);
      throw new ConsulError(
        `cannot reach Consul agent at ${this.baseUrl} (${endpoint}): ${reason}`,
        "unreachable",
        endpoint,
      );
    } finally {
      clearTimeout(timer);
    }
  }

  async json<T>(
    path: string,
    opts: RequestOpts = {},
  ): Promise<{ status: number; index: number; data: T | null }> {
    const r = await this.request(path, opts);
    if (r.text.trim() === "") return { status: r.status, index: r.index, data: null };
    try {
      return { status: r.status, index: r.index, data: JSON.parse(r.text) as T };
    } catch {
      throw new ConsulError(
        `${opts.method ?? "GET"} ${path}: Consul answered with invalid JSON`,
        "invalid-response",
        path,
        r.status,
      );
    }
  }

  /** Node name and datacenter of the local agent. */
  async agentSelf(): Promise<{ node: string; datacenter: string }> {
    const { data } = await this.json<WireAgentSelf>("/v1/agent/self");
    if (!data?.Config?.NodeName) {
      throw new ConsulError(
        "GET /v1/agent/self: no Config.NodeName in answer",
        "invalid-response",
        "/v1/agent/self",
      );
    }
    return { node: data.Config.NodeName, datacenter: data.Config.Datacenter };
  }

  /** One key; null when missing. */
  async kvGet(
    key: string,
    opts: { dc?: string; index?: number; wait?: string } = {},
  ): Promise<KvEntry | null> {
    const r = await this.kvGetIndexed(key, opts);
    return r.entry;
  }

  /** One key with the KV index (for blocking queries). */
  async kvGetIndexed(
    key: string,
    opts: { dc?: string; index?: number; wait?: string } = {},
  ): Promise<{ entry: KvEntry | null; index: number }> {
    const extraMs = opts.wait ? parseWait(opts.wait) : 0;
    const { data, index, status } = await this.json<WireKvPair[]>(`/v1/kv/${encodeKey(key)}`, {
      query: { dc: opts.dc, index: opts.index, wait: opts.wait },
      accept: [404],
      extraMs,
    });
    if (status === 404 || !data || data.length === 0) return { entry: null, index };
    return { entry: decodeKv(data[0]!), index };
  }

  /** Every key under a prefix (empty list when none). */
  async kvList(
    prefix: string,
    opts: { dc?: string; index?: number; wait?: string } = {},
  ): Promise<{ entries: KvEntry[]; index: number }> {
    const extraMs = opts.wait ? parseWait(opts.wait) : 0;
    const { data, index, status } = await this.json<WireKvPair[]>(`/v1/kv/${encodeKey(prefix)}`, {
      query: { recurse: true, dc: opts.dc, index: opts.index, wait: opts.wait },
      accept: [404],
      extraMs,
    });
    if (status === 404 || !data) return { entries: [], index };
    return { entries: data.map(decodeKv), index };
  }

  /**
   * PUT a value. `cas: n` writes only if the key's ModifyIndex is still n (`0`: only if absent).
   * Returns Consul's boolean answer (HTTP 200 either way; the body says whether it happened).
   */
  async kvPut(
    key: string,
    value: string,
    opts: { cas?: number; dc?: string; acquire?: string; release?: string } = {},
  ): Promise<boolean> {
    const r = await this.request(`/v1/kv/${encodeKey(key)}`, {
      method: "PUT",
      body: value,
      query: { cas: opts.cas, dc: opts.dc, acquire: opts.acquire, release: opts.release },
    });
    return parseBool(r.text, `PUT /v1/kv/${key}`);
  }

  async kvDelete(key: string, opts: { cas?: number; dc?: string } = {}): Promise<boolean> {
    const r = await this.request(`/v1/kv/${encodeKey(key)}`, {
      method: "DELETE",
      query: { cas: opts.cas, dc: opts.dc },
    });
    return parseBool(r.text, `DELETE /v1/kv/${key}`);
  }

  /** Datacenters known to the catalog (WAN-joined). */
  async datacenters(): Promise<string[]> {
    const { data } = await this.json<string[]>("/v1/catalog/datacenters");
    return data ?? [];
  }

  /**
   * Every instance of a service in one datacenter (local when dc is omitted), as Consul answers;
   * lib/cluster/health.ts reads the health out of it.
   */
  async serviceHealth(service: string, opts: { dc?: string } = {}): Promise<WireHealthEntry[]> {
    const { data } = await this.json<WireHealthEntry[]>(
      `/v1/health/service/${encodeURIComponent(service)}`,
      { query: { dc: opts.dc } },
    );
    return data ?? [];
  }

  /**
   * The local agent's registrations of a service name, with the node name taken from the
   * checks (saves a request to /v1/agent/self). Empty when the service is not registered here.
   */
  async localService(service: string): Promise<LocalService[]> {
    const { data } = await this.json<WireAgentServiceHealth[]>(
      `/v1/agent/health/service/name/${encodeURIComponent(service)}`,
      { accept: [404, 429, 503] },
    );
    return (data ?? []).map((h) => ({
      id: h.Service.ID,
      service: h.Service,
      node: h.Checks?.find((c) => c.Node)?.Node ?? null,
      aggregated: h.AggregatedStatus,
    }));
  }

  /** Local agent's checks in a given state for a service (for deferred triggers). */
  async agentChecks(): Promise<
    Record<
      string,
      { CheckID: string; Status: string; ServiceName: string; Output: string; Node: string }
    >
  > {
    const { data } = await this.json<
      Record<
        string,
        { CheckID: string; Status: string; ServiceName: string; Output: string; Node: string }
      >
    >(
      "/v1/agent/checks",
    );
    return data ?? {};
  }

  /**
   * Replace a local service's tags, keeping its checks: re-registering through the agent API
   * with the same ID and no checks in the body keeps the existing checks and their status
   * (CONSUL-FACTS A3.1).
   */
  async setServiceTags(svc: WireService, tags: string[]): Promise<void> {
    const body: Record<string, unknown> = {
      ID: svc.ID,
      Name: svc.Service,
      Tags: tags,
      EnableTagOverride: svc.EnableTagOverride ?? false,
    };
    if (svc.Port) body.Port = svc.Port;
    if (svc.Address) body.Address = svc.Address;
    if (svc.Meta && Object.keys(svc.Meta).length > 0) body.Meta = svc.Meta;
    if (svc.Weights) body.Weights = svc.Weights;
    await this.request("/v1/agent/service/register", { method: "PUT", body: JSON.stringify(body) });
  }

  async sessionCreate(
    opts: {
      name: string;
      ttl?: string;
      behavior?: "release" | "delete";
      lockDelay?: string;
      nodeChecks?: string[];
    },
  ): Promise<string> {
    const body: Record<string, unknown> = { Name: opts.name };
    if (opts.ttl) body.TTL = opts.ttl;
    if (opts.behavior) body.Behavior = opts.behavior;
    if (opts.lockDelay) body.LockDelay = opts.lockDelay;
    if (opts.nodeChecks) body.NodeChecks = opts.nodeChecks;
    const { data } = await this.json<{ ID: string }>("/v1/session/create", {
      method: "PUT",
      body: JSON.stringify(body),
    });
    if (!data?.ID) {
      throw new ConsulError(
        "PUT /v1/session/create: no ID in answer",
        "invalid-response",
        "/v1/session/create",
      );
    }
    return data.ID;
  }

  async sessionRenew(id: string): Promise<boolean> {
    const r = await this.request(`/v1/session/renew/${id}`, { method: "PUT", accept: [404] });
    return r.status === 200;
  }

  async sessionDestroy(id: string): Promise<boolean> {
    const r = await this.request(`/v1/session/destroy/${id}`, { method: "PUT" });
    return parseBool(r.text, "PUT /v1/session/destroy");
  }
}

function parseBool(text: string, what: string): boolean {
  const t = text.trim();
  if (t === "true") return true;
  if (t === "false") return false;
  throw new ConsulError(
    `${what}: expected true or false, got ${t.slice(0, 80)}`,
    "invalid-response",
    what,
  );
}

/** Keys keep their slashes; every segment is URL-encoded. */
export function encodeKey(key: string): string {
  return key.split("/").map(encodeURIComponent).join("/");
}

/** "10s", "2m", "500ms" → milliseconds (for the extra deadline of blocking queries). */
export function parseWait(w: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(w);
  if (!m) return 0;
  const n = Number(m[1]);
  return m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : n * 60_000;
}
