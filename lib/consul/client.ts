/**
 * The Consul endpoints powerconsul uses, over ConsulHttp (lib/consul/http.ts: timeouts, the
 * deadline, answer shapes, errors). A lost CAS is `false`; a missing KV key is null.
 */
import type {
  WireAgentSelf,
  WireAgentServiceHealth,
  WireHealthCheck,
  WireHealthEntry,
  WireKvPair,
  WireService,
} from "./types.ts";
import { ConsulError, ConsulHttp, parseBool, parseWait } from "./http.ts";
import { encodeKvKey } from "../names.ts";
import {
  AGENT_CHECKS,
  AGENT_SERVICE_HEALTH,
  catalogTagsBody,
  decodeKv,
  decodeMembers,
  HEALTH_ENTRIES,
  type KvEntry,
  type Member,
  MEMBERS,
  NODE_CHECKS,
  registrationBody,
  SHAPES,
  TXN_ANSWER,
  TXN_ERRORS,
  txnBody,
  txnCasFailure,
  type TxnOp,
  type TxnRead,
} from "./wire.ts";

export {
  b64decode,
  b64encode,
  decodeKv,
  type KvEntry,
  registrationBody,
  type TxnOp,
  type TxnRead,
} from "./wire.ts";

/** A transaction either applied every operation or none (`failed`: which one refused, why). */
export type TxnOutcome =
  | { ok: true }
  | { ok: false; failed: { opIndex: number; what: string }[] };
export { type ClientOptions, ConsulError, type ConsulErrorKind, parseWait } from "./http.ts";

export interface LocalService {
  id: string;
  service: WireService;
  node: string | null;
  aggregated: string;
}

export class ConsulClient extends ConsulHttp {
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

  /**
   * Apply KV operations atomically (`PUT /v1/txn`): all of them or none. A check-and-set that
   * does not hold rolls the whole transaction back (HTTP 409 naming the operation).
   */
  async txn(ops: readonly TxnOp[], opts: { dc?: string } = {}): Promise<TxnOutcome> {
    const { status, data } = await this.json<{ Errors?: { OpIndex: number; What: string }[] }>(
      "/v1/txn",
      {
        method: "PUT",
        body: JSON.stringify(txnBody(ops)),
        query: { dc: opts.dc },
        accept: [409],
        shape: TXN_ANSWER,
      },
    );
    if (status === 200) return { ok: true };
    const errors = data!.Errors ?? [];
    const why = TXN_ERRORS(errors);
    if (why || errors.length === 0) {
      throw new ConsulError(
        `PUT /v1/txn: unexpected answer from Consul (HTTP 409: ${why ?? "no errors listed"})`,
        "invalid-response",
        "PUT /v1/txn",
        409,
      );
    }
    // A rolled-back transaction names why per operation: a check that did not hold is an
    // answer (the caller lost a race); anything else (an ACL denial) is an error.
    const denied = errors.find((e) => /permission denied/i.test(e.What));
    if (denied) {
      throw new ConsulError(
        `permission denied by Consul ACLs on PUT /v1/txn (${
          ops[denied.OpIndex]?.key ?? `operation ${denied.OpIndex}`
        }: ${denied.What}); check the token's policy`,
        "permission",
        "PUT /v1/txn",
        409,
      );
    }
    const odd = errors.find((e) => !txnCasFailure(e.What));
    if (odd) {
      throw new ConsulError(
        `PUT /v1/txn: ${ops[odd.OpIndex]?.key ?? `operation ${odd.OpIndex}`} refused: ${odd.What}`,
        "invalid-response",
        "PUT /v1/txn",
        409,
      );
    }
    return { ok: false, failed: errors.map((e) => ({ opIndex: e.OpIndex, what: e.What })) };
  }

  /**
   * Several KV reads in one server round trip, all at one index (`PUT /v1/txn` with only
   * reads): every entry found, in operation order. Null when the transaction was rolled back (a
   * `get` of a missing key). A key the token may not read is left out of the answer, not refused
   * (Consul filters reads by ACL): a caller that needs to tell must check what came back.
   */
  async kvReadTxn(ops: readonly TxnRead[]): Promise<KvEntry[] | null> {
    const { status, data } = await this.json<{ Results?: { KV?: WireKvPair }[] | null }>(
      "/v1/txn",
      { method: "PUT", body: JSON.stringify(txnBody(ops)), accept: [409], shape: TXN_ANSWER },
    );
    if (status === 409) return null;
    const pairs = (data!.Results ?? []).map((r) => r.KV);
    const why = SHAPES.kvPairs(pairs);
    if (why) {
      throw new ConsulError(
        `PUT /v1/txn: unexpected answer from Consul (HTTP ${status}: ${why})`,
        "invalid-response",
        "PUT /v1/txn",
        status,
      );
    }
    return (pairs as WireKvPair[]).map(decodeKv);
  }

  /** Datacenters known to the catalog (WAN-joined). */
  async datacenters(): Promise<string[]> {
    const { data } = await this.json<string[]>("/v1/catalog/datacenters", {
      shape: SHAPES.datacenters,
    });
    return data!;
  }

  /** Every instance of a service in one datacenter (local when dc is omitted). */
  async serviceHealth(service: string, opts: { dc?: string } = {}): Promise<WireHealthEntry[]> {
    const { data } = await this.json<WireHealthEntry[]>(
      `/v1/health/service/${encodeURIComponent(service)}`,
      { query: { dc: opts.dc }, shape: HEALTH_ENTRIES },
    );
    return data ?? [];
  }

  /** The checks of one node (its serfHealth, maintenance and service checks). */
  async nodeHealth(node: string, opts: { dc?: string } = {}): Promise<WireHealthCheck[]> {
    const { data } = await this.json<WireHealthCheck[]>(
      `/v1/health/node/${encodeURIComponent(node)}`,
      { query: { dc: opts.dc }, shape: NODE_CHECKS },
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
      { accept: [404, 429, 503], shape: AGENT_SERVICE_HEALTH },
    );
    return data!.map((h) => ({
      id: h.Service.ID,
      service: h.Service,
      node: h.Checks?.find((c) => c.Node)?.Node ?? null,
      aggregated: h.AggregatedStatus,
    }));
  }

  /** The local agent's gossip members: answers without any server. */
  async agentMembers(): Promise<Member[]> {
    const { data } = await this.json<
      { Name: string; Status: number; Tags?: Record<string, string> | null }[]
    >("/v1/agent/members", { shape: MEMBERS });
    return decodeMembers(data ?? []);
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
   *
   * A service with `EnableTagOverride` takes its tags from the catalog: every full sync copies
   * the catalog's tags into the agent's copy, so an agent-only write can be taken back. Its tags
   * are written to the catalog first (the agent then adopts them), then to the agent.
   */
  async setServiceTags(svc: WireService, tags: string[]): Promise<void> {
    if (svc.EnableTagOverride === true) {
      const { node } = await this.agentSelf();
      await this.request("/v1/catalog/register", {
        method: "PUT",
        body: JSON.stringify(catalogTagsBody(svc, tags, node)),
      });
    }
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
