// A fake Consul client from plain data for orchestration unit tests (the check's runner, the
// event-driven takeover): reads answer from the fields, writes are recorded in `calls`.
import type { KvEntry, LocalService, TxnOp, TxnRead } from "../../lib/consul/client.ts";
import type { WireHealthEntry, WireService } from "../../lib/consul/types.ts";
import { kvEntry } from "./cluster.ts";

interface AgentCheck {
  CheckID: string;
  Status: string;
  ServiceName: string;
  Output: string;
  Node: string;
}

export class FakeConsul {
  readonly kv = new Map<string, KvEntry>();
  readonly calls: string[] = [];
  health: WireHealthEntry[] = [];
  local: LocalService[] = [];
  /** The local agent's checks (/v1/agent/checks). */
  checks: Record<string, AgentCheck> = {};
  /** What a kvPut or a transaction answers: true/false, or an error to throw. */
  put: boolean | Error = true;
  /** When set, every KV read fails with it. */
  fail: Error | null = null;
  /** The catalog's serfHealth of this node (a lease is renewed only while it passes). */
  serf: string;
  constructor(o: { serf?: string } = {}) {
    this.serf = o.serf ?? "passing";
  }
  localService() {
    return Promise.resolve(this.local);
  }
  kvGet(key: string, opts: { dc?: string } = {}) {
    if (this.fail) return Promise.reject(this.fail);
    return Promise.resolve(opts.dc ? null : this.kv.get(key) ?? null);
  }
  serviceHealth() {
    return Promise.resolve(this.health);
  }
  datacenters() {
    return Promise.resolve(["dc1"]);
  }
  agentSelf() {
    return Promise.resolve({ node: "s1", datacenter: "dc1" });
  }
  nodeHealth() {
    return Promise.resolve([{ CheckID: "serfHealth", Status: this.serf }]);
  }
  kvPut(key: string, value: string, opts: { cas?: number; dc?: string }) {
    this.calls.push(`put ${key} cas=${opts.cas}`);
    if (this.put instanceof Error) return Promise.reject(this.put);
    if (this.put) this.kv.set(key, kvEntry(key, value, (opts.cas ?? 0) + 1));
    return Promise.resolve(this.put);
  }
  /** A transaction: every op logged like a put; `put` decides the answer as for kvPut. */
  txn(ops: TxnOp[]) {
    for (const op of ops) {
      this.calls.push(`txn ${op.verb} ${op.key} cas=${"index" in op ? op.index : "-"}`);
    }
    if (this.put instanceof Error) return Promise.reject(this.put);
    if (!this.put) return Promise.resolve({ ok: false, failed: [{ opIndex: 0, what: "cas" }] });
    for (const op of ops) {
      if ("value" in op) {
        this.kv.set(op.key, kvEntry(op.key, op.value, ("index" in op ? op.index : 0) + 1));
      }
    }
    return Promise.resolve({ ok: true });
  }
  kvList() {
    return Promise.resolve({ entries: [], index: 1 });
  }
  /** Reads in one transaction: a missing `get` key rolls it back (null), as Consul does. */
  kvReadTxn(ops: TxnRead[]) {
    if (this.fail) return Promise.reject(this.fail);
    const out: KvEntry[] = [];
    for (const op of ops) {
      if (op.verb === "get") {
        const e = this.kv.get(op.key);
        if (!e) return Promise.resolve(null);
        out.push(e);
      } else {
        for (const [k, e] of this.kv) if (k.startsWith(op.key)) out.push(e);
      }
    }
    return Promise.resolve(out);
  }
  agentMembers() {
    return Promise.resolve([]);
  }
  agentChecks() {
    return Promise.resolve(this.checks);
  }
  setServiceTags(svc: WireService, tags: string[]) {
    this.calls.push(`tags ${svc.ID}=${JSON.stringify(tags)}`);
    return Promise.resolve();
  }
}

/** A node's instance of `web` with one service check (ModifyIndex 50). */
export function healthEntry(
  node: string,
  status: string,
  checkId: string,
  output = "x",
): WireHealthEntry {
  return {
    Node: { Node: node, Address: "", Datacenter: "dc1" },
    Service: { ID: "web", Service: "web", Tags: null },
    Checks: [{
      Node: node,
      CheckID: checkId,
      Name: "",
      Status: status,
      Output: output,
      ServiceID: "web",
      ServiceName: "web",
      ModifyIndex: 50,
    }],
  };
}
