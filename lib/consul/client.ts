/**
 * A small Consul HTTP client over fetch. Every request has a timeout covering the whole
 * exchange (connect, headers and body), cut to what is left of the command's deadline. Every
 * answer's shape is checked before it is read: an unexpected shape is a ConsulError naming the
 * endpoint (kind invalid-response), never a guess. Absence is a value (null) only for KV reads
 * (404 with an empty body); a lost CAS is `false`; everything else that goes wrong is a
 * ConsulError naming the endpoint and status — never the token.
 */
import type { Deadline } from "../deadline.ts";
import { PowerconsulError } from "../errors.ts";
import { Exit } from "../exit_codes.ts";
import { encodeKvKey } from "../names.ts";
import type {
  WireAgentSelf,
  WireAgentServiceHealth,
  WireHealthEntry,
  WireKvPair,
  WireService,
} from "./types.ts";
import { AGENT_CHECKS, AGENT_SERVICE_HEALTH, decodeKv, type KvEntry, SHAPES } from "./wire.ts";

export { b64decode, b64encode, decodeKv, type KvEntry } from "./wire.ts";

export type ConsulErrorKind =
  /** Connection refused, DNS failure, TLS failure. */
  | "unreachable"
  /** No answer within the deadline. */
  | "timeout"
  /** The agent answers but reaches no server: catalog/KV state is unknown. */
  | "no-server"
  /** 403: ACL denied or unknown token. */
  | "permission"
  /** Any other non-2xx answer. */
  | "http"
  /** A body we cannot parse, of an unexpected shape, or a redirect. */
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

export interface Instance {
  node: string;
  datacenter: string;
  serviceId: string;
  service: string;
  tags: string[];
  /** Every check on the instance (node checks included) is passing. */
  passing: boolean;
  /** Names of the checks that are not passing, with their status. */
  failing: string[];
  /**
   * Not passing only because a check has not run yet: Consul shows a new check as critical
   * with empty output until its first run. Such an instance is neither
   * up nor down.
   */
  pending: boolean;
  /** Highest ModifyIndex of its checks (Raft indexes are comparable with KV ones). */
  checksIndex: number;
  /** One of its checks is a powerconsul check saying "expected running, and running". */
  claimsActive: boolean;
}

/** Whether a check's output is a powerconsul check line saying it runs as expected. */
export function outputClaimsActive(output: string | undefined): boolean {
  const line = (output ?? "").split("\n").find((l) => l.startsWith("{"));
  if (!line) return false;
  try {
    const j = JSON.parse(line);
    return j?.expects === true && j?.state === "passing";
  } catch {
    return false;
  }
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
  /** The command's deadline: no request outlives it. */
  deadline?: Deadline;
}

const NO_SERVER = /No known Consul servers|rpc error|No cluster leader|failed to get conn/i;

/** SPEC §5 passing rule: every check on the instance, node checks included, is passing. */
export function toInstance(e: WireHealthEntry): Instance {
  const bad = (e.Checks ?? []).filter((c) => c.Status !== "passing");
  const failing = bad.map((c) =>
    `${c.CheckID}=${c.Status}${c.Status === "critical" && !c.Output ? "(not run yet)" : ""}`
  );
  return {
    node: e.Node.Node,
    datacenter: e.Node.Datacenter,
    serviceId: e.Service.ID,
    service: e.Service.Service,
    tags: e.Service.Tags ?? [],
    passing: bad.length === 0,
    failing,
    pending: bad.length > 0 && bad.every((c) => c.Status === "critical" && !c.Output),
    checksIndex: Math.max(0, ...(e.Checks ?? []).map((c) => c.ModifyIndex ?? 0)),
    claimsActive: (e.Checks ?? []).some((c) => outputClaimsActive(c.Output)),
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

type Shape = (v: unknown) => string | null;

export class ConsulClient {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  #token?: string;
  #httpClient?: Deno.HttpClient;
  #onRequest?: (method: string, path: string) => void;
  #deadline?: Deadline;

  constructor(opts: ClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, "");
    this.timeoutMs = opts.timeoutMs;
    if (opts.token) this.#token = opts.token;
    if (opts.httpClient) this.#httpClient = opts.httpClient;
    if (opts.onRequest) this.#onRequest = opts.onRequest;
    if (opts.deadline) this.#deadline = opts.deadline;
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
    const own = this.timeoutMs + (opts.extraMs ?? 0);
    const ms = this.#deadline ? this.#deadline.cap(own) : own;
    const byDeadline = ms < own;
    if (ms <= 0) {
      throw new ConsulError(
        `the command's deadline (${this.#deadline!.describe()}) passed before ${endpoint}`,
        "timeout",
        endpoint,
      );
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), ms);
    this.#onRequest?.(method, path);
    try {
      const init: RequestInit & { client?: Deno.HttpClient } = {
        method,
        headers,
        signal: controller.signal,
        redirect: "manual",
      };
      if (opts.body !== undefined) init.body = opts.body;
      if (this.#httpClient) init.client = this.#httpClient;
      const res = await fetch(url, init);
      const text = await res.text();
      const index = Number(res.headers.get("X-Consul-Index") ?? 0) || 0;
      if (res.status >= 300 && res.status < 400) {
        const to = res.headers.get("Location") ?? "(no Location header)";
        throw new ConsulError(
          `${endpoint} was redirected (HTTP ${res.status}) to ${to}; give the agent's own address`,
          "invalid-response",
          endpoint,
          res.status,
        );
      }
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
        const why = byDeadline
          ? ` (the rest of the command's ${this.#deadline!.describe()} deadline)`
          : "";
        throw new ConsulError(
          `Consul agent at ${this.baseUrl} did not answer ${endpoint} within ${
            Math.round(ms) / 1000
          }s${why}`,
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

  /**
   * A JSON answer checked against `shape` (when given). `accept` statuses other than 2xx are
   * answers too; an empty body is null only where the caller allows it (`empty: true`).
   */
  async json<T>(
    path: string,
    opts: RequestOpts & { shape?: Shape; empty?: boolean } = {},
  ): Promise<{ status: number; index: number; data: T | null }> {
    const r = await this.request(path, opts);
    const endpoint = `${opts.method ?? "GET"} ${path}`;
    const invalid = (why: string) =>
      new ConsulError(
        `${endpoint}: unexpected answer from Consul (HTTP ${r.status}: ${why})`,
        "invalid-response",
        endpoint,
        r.status,
      );
    if (r.text.trim() === "") {
      if (opts.empty) return { status: r.status, index: r.index, data: null };
      throw invalid("empty body");
    }
    let data: unknown;
    try {
      data = JSON.parse(r.text);
    } catch {
      throw invalid(`not JSON: ${JSON.stringify(r.text.trim().slice(0, 60))}`);
    }
    const why = opts.shape?.(data);
    if (why) throw invalid(why);
    return { status: r.status, index: r.index, data: data as T };
  }

  /** Node name and datacenter of the local agent. */
  async agentSelf(): Promise<{ node: string; datacenter: string }> {
    const { data } = await this.json<WireAgentSelf>("/v1/agent/self", { shape: SHAPES.agentSelf });
    return { node: data!.Config.NodeName, datacenter: data!.Config.Datacenter };
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
    const { data, index } = await this.kvRead(key, {
      query: { dc: opts.dc, index: opts.index, wait: opts.wait },
      extraMs,
    });
    if (!data || data.length === 0) return { entry: null, index };
    return { entry: decodeKv(data[0]!), index };
  }

  /** Every key under a prefix (empty list when none). */
  async kvList(
    prefix: string,
    opts: { dc?: string; index?: number; wait?: string } = {},
  ): Promise<{ entries: KvEntry[]; index: number }> {
    const extraMs = opts.wait ? parseWait(opts.wait) : 0;
    const { data, index } = await this.kvRead(prefix, {
      query: { recurse: true, dc: opts.dc, index: opts.index, wait: opts.wait },
      extraMs,
    });
    return { entries: (data ?? []).map(decodeKv), index };
  }

  /** A KV read: a missing key is 404 with an empty body; any other 404 is not an answer. */
  private async kvRead(
    key: string,
    opts: RequestOpts,
  ): Promise<{ data: WireKvPair[] | null; index: number }> {
    const path = `/v1/kv/${encodeKvKey(key)}`;
    const r = await this.request(path, { ...opts, accept: [404] });
    if (r.status === 404) {
      if (r.text.trim() !== "") {
        throw new ConsulError(
          `GET ${path}: HTTP 404 with a body (${
            JSON.stringify(r.text.trim().slice(0, 60))
          }); this is not Consul's KV store (check the agent address)`,
          "invalid-response",
          `GET ${path}`,
          404,
        );
      }
      return { data: null, index: r.index };
    }
    let data: unknown;
    try {
      data = JSON.parse(r.text);
    } catch {
      data = undefined;
    }
    const why = data === undefined ? "not JSON" : SHAPES.kvPairs(data);
    if (why) {
      throw new ConsulError(
        `GET ${path}: unexpected answer from Consul (HTTP ${r.status}: ${why})`,
        "invalid-response",
        `GET ${path}`,
        r.status,
      );
    }
    return { data: data as WireKvPair[], index: r.index };
  }

  /**
   * PUT a value. `cas: n` writes only if the key's ModifyIndex is still n (`0`: only if absent).
   * Returns Consul's boolean answer (HTTP 200 either way; the body says whether it happened).
   */
  async kvPut(
    key: string,
    value: string,
    opts: { cas?: number; dc?: string; acquire?: string } = {},
  ): Promise<boolean> {
    const r = await this.request(`/v1/kv/${encodeKvKey(key)}`, {
      method: "PUT",
      body: value,
      query: { cas: opts.cas, dc: opts.dc, acquire: opts.acquire },
    });
    return parseBool(r.text, `PUT /v1/kv/${key}`);
  }

  async kvDelete(key: string, opts: { cas?: number; dc?: string } = {}): Promise<boolean> {
    const r = await this.request(`/v1/kv/${encodeKvKey(key)}`, {
      method: "DELETE",
      query: { cas: opts.cas, dc: opts.dc },
    });
    return parseBool(r.text, `DELETE /v1/kv/${key}`);
  }

  /** Datacenters known to the catalog (WAN-joined). */
  async datacenters(): Promise<string[]> {
    const { data } = await this.json<string[]>("/v1/catalog/datacenters", {
      shape: SHAPES.datacenters,
    });
    return data!;
  }

  /** Every instance of a service in one datacenter (local when dc is omitted). */
  async serviceHealth(service: string, opts: { dc?: string } = {}): Promise<Instance[]> {
    const { data } = await this.json<WireHealthEntry[]>(
      `/v1/health/service/${encodeURIComponent(service)}`,
      { query: { dc: opts.dc } },
    );
    return (data ?? []).map(toInstance);
  }

  /**
   * The local agent's registrations of a service name, with the node name taken from the
   * checks (saves a request to /v1/agent/self). Empty when the service is not registered here.
   */
  async localService(service: string): Promise<LocalService[]> {
    const { data } = await this.json<WireAgentServiceHealth[]>(
      `/v1/agent/health/service/name/${encodeURIComponent(service)}`,
      { accept: [404, 429, 503], shape: AGENT_SERVICE_HEALTH },
    );
    return data!.map((h) => ({
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
    >("/v1/agent/checks", { shape: AGENT_CHECKS });
    return data!;
  }

  /**
   * Replace a local service's tags, keeping everything else: re-registering through the agent
   * API with the same ID and no checks in the body keeps the existing checks and their status.
   * Every field the agent reported goes back as it was (Meta, Weights, Port, Address,
   * TaggedAddresses, EnableTagOverride, Connect, Kind, Proxy …) but for the read-only ones.
   */
  async setServiceTags(svc: WireService, tags: string[]): Promise<void> {
    await this.request("/v1/agent/service/register", {
      method: "PUT",
      body: JSON.stringify(registrationBody(svc, tags)),
    });
  }

  async sessionCreate(
    opts: {
      name: string;
      ttl?: string;
      behavior?: "release" | "delete";
      lockDelay?: string;
    },
  ): Promise<string> {
    const body: Record<string, unknown> = { Name: opts.name };
    if (opts.ttl) body.TTL = opts.ttl;
    if (opts.behavior) body.Behavior = opts.behavior;
    if (opts.lockDelay) body.LockDelay = opts.lockDelay;
    const { data } = await this.json<{ ID: string }>("/v1/session/create", {
      method: "PUT",
      body: JSON.stringify(body),
      shape: SHAPES.session,
    });
    return data!.ID;
  }

  async sessionRenew(id: string): Promise<boolean> {
    const path = `/v1/session/renew/${encodeURIComponent(id)}`;
    const r = await this.request(path, { method: "PUT", accept: [404] });
    if (r.status === 404 && !/session/i.test(r.text)) {
      throw new ConsulError(
        `PUT ${path}: HTTP 404 that does not name the session (check the agent address)`,
        "invalid-response",
        `PUT ${path}`,
        404,
      );
    }
    return r.status === 200;
  }

  async sessionDestroy(id: string): Promise<boolean> {
    const r = await this.request(`/v1/session/destroy/${encodeURIComponent(id)}`, {
      method: "PUT",
    });
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

/** "10s", "2m", "500ms" → milliseconds (for the extra deadline of blocking queries). */
export function parseWait(w: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(w);
  if (!m) return 0;
  const n = Number(m[1]);
  return m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : n * 60_000;
}
