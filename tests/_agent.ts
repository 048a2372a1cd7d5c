/** Small helpers for talking to harness agents directly from tests (the test's own view). */
import assert from "node:assert/strict";
import type { AgentHandle } from "./harness/consul.ts";

export async function kvPut(
  a: AgentHandle,
  key: string,
  value: string,
  dc?: string,
): Promise<void> {
  const r = await a.api(`/v1/kv/${key}${dc ? `?dc=${dc}` : ""}`, { method: "PUT", body: value });
  assert.equal(await r.text(), "true", `PUT ${key}`);
}

export async function kvGet(
  a: AgentHandle,
  key: string,
  dc?: string,
): Promise<{ value: string | null; modifyIndex: number } | null> {
  const r = await a.api(`/v1/kv/${key}${dc ? `?dc=${dc}` : ""}`);
  if (r.status === 404) {
    await r.body?.cancel();
    return null;
  }
  const [e] = await r.json() as { Value: string | null; ModifyIndex: number }[];
  return { value: decodeValue(e!.Value), modifyIndex: e!.ModifyIndex };
}

/** A KV Value field as text: bytes are UTF-8 (atob alone would read them as Latin-1). */
function decodeValue(v: string | null): string | null {
  return v === null
    ? null
    : new TextDecoder().decode(Uint8Array.from(atob(v), (c) => c.charCodeAt(0)));
}

export async function kvDelete(a: AgentHandle, key: string): Promise<void> {
  await (await a.api(`/v1/kv/${key}?recurse`, { method: "DELETE" })).body?.cancel();
}

/** Register a service on an agent (over the API; test agents allow script checks). */
export async function register(a: AgentHandle, body: Record<string, unknown>): Promise<void> {
  const r = await a.api("/v1/agent/service/register", {
    method: "PUT",
    body: JSON.stringify(body),
  });
  const text = await r.text();
  assert.ok(r.ok, `register on ${a.name}: HTTP ${r.status} ${text}`);
}

export async function ttl(a: AgentHandle, checkId: string, state: "pass" | "fail" | "warn") {
  // a note, because a critical check with empty output counts as "not run yet"
  const r = await a.api(`/v1/agent/check/${state}/${checkId}?note=test-${state}`, {
    method: "PUT",
  });
  assert.ok(r.ok, `ttl ${state} ${checkId}: HTTP ${r.status}`);
  await r.body?.cancel();
}

export interface AgentCheck {
  CheckID: string;
  Status: string;
  Output: string;
  ServiceID: string;
}

export async function agentChecks(a: AgentHandle): Promise<Record<string, AgentCheck>> {
  return await (await a.api("/v1/agent/checks")).json();
}

export async function agentService(
  a: AgentHandle,
  id: string,
): Promise<{ Tags: string[] | null } | null> {
  const r = await a.api(`/v1/agent/service/${id}`);
  if (r.status === 404) {
    await r.body?.cancel();
    return null;
  }
  return await r.json();
}

/** Tags as the catalog holds them (Service.Tags, never a check's ServiceTags copy). */
export async function catalogTags(
  a: AgentHandle,
  service: string,
  node: string,
): Promise<string[]> {
  const list = await (await a.api(`/v1/health/service/${service}`)).json() as {
    Node: { Node: string };
    Service: { Tags: string[] | null };
  }[];
  return list.find((e) => e.Node.Node === node)?.Service.Tags ?? [];
}

/**
 * Every version a KV key goes through, recorded with blocking queries until stop(): the parsed
 * JSON documents, consecutive duplicates folded. For asserting "exactly one flip, one unlock".
 */
export function kvHistory(agent: AgentHandle, key: string) {
  const seen: unknown[] = [];
  const ctl = new AbortController();
  const done = (async () => {
    let index = 0;
    while (!ctl.signal.aborted) {
      try {
        const r = await fetch(`${agent.url}/v1/kv/${key}?index=${index}&wait=5s`, {
          signal: ctl.signal,
        });
        const next = Number(r.headers.get("X-Consul-Index"));
        if (r.status !== 200) {
          await r.body?.cancel();
        } else {
          const [e] = await r.json() as { Value: string | null }[];
          const doc = JSON.parse(decodeValue(e!.Value) ?? "null");
          if (JSON.stringify(doc) !== JSON.stringify(seen.at(-1))) seen.push(doc);
        }
        index = next;
      } catch {
        break;
      }
    }
  })();
  return {
    seen,
    async stop(): Promise<unknown[]> {
      ctl.abort();
      await done;
      return seen;
    },
  };
}
