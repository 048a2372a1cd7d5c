/**
 * The HTTP exchange with a Consul agent over fetch. Every request has a timeout covering the
 * whole exchange (connect, headers and body), cut to what is left of the command's deadline.
 * Every answer's shape is checked before it is read: an unexpected shape is a ConsulError naming
 * the endpoint (kind invalid-response), never a guess. Absence is a value (null) only for KV
 * reads (404 with an empty body); everything else that goes wrong is a ConsulError naming the
 * endpoint and status — never the token. Redirects are not followed: one is an error naming its
 * target.
 */
import type { Deadline } from "../deadline.ts";
import { PowerconsulError } from "../errors.ts";
import { Exit } from "../exit_codes.ts";
import { encodeKvKey } from "../names.ts";
import { type Answer, ClosedEarly, exchange, HttpFramingError } from "./http1.ts";
import type { WireKvPair } from "./types.ts";
import { SHAPES } from "./wire.ts";

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

/** An IPv4 address or a bracketed IPv6 one, as URL.hostname gives them. */
function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || /^\[[0-9a-fA-F:.]+\]$/.test(host);
}

/** The largest answer read from a plain-HTTP agent (any KV listing a command reads is smaller). */
const MAX_ANSWER = 256 * 1024 * 1024;

const NO_SERVER = /No known Consul servers|rpc error|No cluster leader|failed to get conn/i;

export interface RequestOpts {
  method?: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: string;
  /** Statuses that are answers, not errors (e.g. 404 for a missing key). */
  accept?: number[];
  /** Extra time on top of the request timeout (blocking queries). */
  extraMs?: number;
}

export type Shape = (v: unknown) => string | null;

/** Requests, JSON answers and KV reads; the endpoints are in ConsulClient. */
export class ConsulHttp {
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
    // lib/timer.ts: no global setTimeout on the hot path; nothing to clear afterwards
    const signal = AbortSignal.timeout(Math.max(1, Math.ceil(ms)));
    this.#onRequest?.(method, path);
    try {
      const res = await this.#exchange(url, method, headers, opts.body, signal);
      const text = res.text;
      const index = Number(res.header("X-Consul-Index") ?? 0) || 0;
      if (res.status >= 300 && res.status < 400) {
        const to = res.header("Location") ?? "(no Location header)";
        throw new ConsulError(
          `${endpoint} was redirected (HTTP ${res.status}) to ${to}; give the agent's own address`,
          "invalid-response",
          endpoint,
          res.status,
        );
      }
      if ((res.status >= 200 && res.status < 300) || (opts.accept ?? []).includes(res.status)) {
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
      // (after an abort, exchange() rejects with the signal's reason, never these two)
      if (e instanceof ClosedEarly) {
        throw new ConsulError(
          `cannot reach Consul agent at ${this.baseUrl} (${endpoint}): ${e.message}`,
          "unreachable",
          endpoint,
        );
      }
      if (e instanceof HttpFramingError) {
        throw new ConsulError(
          `${endpoint}: the agent at ${this.baseUrl} did not answer in HTTP/1.x (${e.message})`,
          "invalid-response",
          endpoint,
        );
      }
      if (signal.aborted) {
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
    }
  }

  /**
   * One exchange: plain http:// agents at an IP address over a connection of our own
   * (lib/consul/http1.ts: a fraction of fetch's start-up cost in a short process); https://
   * ones through fetch (TLS, CA and client certificates), and so are host names (fetch tries
   * every address a name resolves to; Deno.connect only the first, so `localhost` on a host
   * listing ::1 first would miss an agent on 127.0.0.1).
   */
  async #exchange(
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: string | undefined,
    signal: AbortSignal,
  ): Promise<Answer> {
    if (url.protocol === "http:" && !this.#httpClient && isIpLiteral(url.hostname)) {
      const o: Parameters<typeof exchange>[1] = { method, headers, signal, maxBytes: MAX_ANSWER };
      if (body !== undefined) o.body = body;
      return await exchange(url, o);
    }
    const init: RequestInit & { client?: Deno.HttpClient } = {
      method,
      headers,
      signal,
      redirect: "manual",
    };
    if (body !== undefined) init.body = body;
    if (this.#httpClient) init.client = this.#httpClient;
    const res = await fetch(url, init);
    const text = await res.text();
    return { status: res.status, header: (n) => res.headers.get(n), text };
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

  /** A KV read: a missing key is 404 with an empty body; any other 404 is not an answer. */
  protected async kvRead(
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
}

export function parseBool(text: string, what: string): boolean {
  const t = text.trim();
  if (t === "true") return true;
  if (t === "false") return false;
  throw new ConsulError(
    `${what}: expected true or false, got ${t.slice(0, 80)}`,
    "invalid-response",
    what,
  );
}

/** "10s", "2m", "500ms" → milliseconds (for the extra deadline of blocking queries). */
export function parseWait(w: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(w);
  if (!m) return 0;
  const n = Number(m[1]);
  return m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : n * 60_000;
}
