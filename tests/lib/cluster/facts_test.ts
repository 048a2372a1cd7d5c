import assert from "node:assert/strict";
import {
  clusterKeyFor,
  clusterPrefixFor,
  FirstReads,
  healKey,
  IdentityCache,
  LiveFacts,
} from "../../../lib/cluster/facts.ts";
import { UsageError } from "../../../lib/errors.ts";
import { config, kvEntry } from "../../_support/cluster.ts";
import { healthEntry } from "../../_support/fake_consul.ts";
import type { KvEntry } from "../../../lib/consul/client.ts";
import type { WireHealthEntry } from "../../../lib/consul/types.ts";

Deno.test("clusterKeyFor() is <clusterKey>/<service>, or null without clusterKey", () => {
  assert.equal(clusterKeyFor(config({ clusterKey: "cluster" }), "web"), "cluster/web");
  assert.equal(clusterKeyFor(config(), "web"), null);
  assert.equal(clusterKeyFor(config({ clusterKey: "cluster/prod" }), "web"), "cluster/prod/web");
  for (const bad of ["..", ".", "../service/evil", ""]) {
    assert.throws(() => clusterKeyFor(config({ clusterKey: "cluster" }), bad), UsageError, bad);
  }
});

Deno.test("clusterPrefixFor() is the listing prefix of the documents, built like their keys", () => {
  assert.equal(clusterPrefixFor(config({ clusterKey: "cluster/prod" })), "cluster/prod/");
  assert.equal(clusterPrefixFor(config({ clusterKey: "/cluster//prod/" })), "cluster/prod/");
  assert.equal(clusterPrefixFor(config()), null);
  assert.throws(() => clusterPrefixFor(config({ clusterKey: "cluster/../service" })), UsageError);
});

Deno.test("IdentityCache: nodeName beats the hint, the hint beats the agent, one agent read", async () => {
  let reads = 0;
  const consul = {
    agentSelf: () => {
      reads++;
      return Promise.resolve({ node: "agent-node", datacenter: "dc9" });
    },
  };
  // deno-lint-ignore no-explicit-any
  const c = consul as any;
  assert.equal(await new IdentityCache(c, config({ nodeName: "forced" }), "hint").node(), "forced");
  assert.equal(await new IdentityCache(c, config(), Promise.resolve("hint")).node(), "hint");
  const id = new IdentityCache(c, config(), Promise.reject(new Error("x")));
  assert.equal(await id.node(), "agent-node");
  assert.equal(await id.datacenter(), "dc9");
  assert.equal(reads, 1);
});

Deno.test("LiveFacts.heartbeats(): one listing gives the heartbeats' indexes and the heal marks", async () => {
  const lists: string[] = [];
  const e = (key: string, value: string | null, modifyIndex: number) => ({
    key,
    value,
    modifyIndex,
  });
  const consul = {
    kvList: (prefix: string) => {
      lists.push(prefix);
      return Promise.resolve({
        entries: [
          e("service/web/a1/heartbeat", "123", 70),
          e("service/web/a1/healing", "failed", 75),
          e("service/web/a2/healing", "healing", 80),
          e("service/web/a3/healing", "garbage", 81),
          e("service/web/a3/promote", "NULL", 82),
          e("service/web/a4/x/healing", "failed", 83),
        ],
      });
    },
  };
  // deno-lint-ignore no-explicit-any
  const c = consul as any;
  const f = new LiveFacts(c, new IdentityCache(c, config()));
  const keys = await f.heartbeats("service/web/");
  assert.deepEqual(lists, ["service/web/"]);
  assert.deepEqual([...keys.beats], [["a1", 70]]);
  assert.deepEqual([...keys.marks], [["a1", { index: 75, state: "failed" }], [
    "a2",
    { index: 80, state: "healing" },
  ]]);
  assert.equal(healKey("service", "web", "a1"), "service/web/a1/healing");
});

/** A consul double that counts what is asked of it, one answer per kind. */
function counting(a: {
  txn: () => Promise<KvEntry[] | null>;
  health?: WireHealthEntry[];
}) {
  const asked: string[] = [];
  const consul = {
    kvReadTxn: (ops: { verb: string; key: string }[]) => {
      asked.push(`txn ${ops.map((o) => `${o.verb} ${o.key}`).join(", ")}`);
      return a.txn();
    },
    serviceHealth: (svc: string, o: { dc?: string } = {}) => {
      asked.push(`health ${svc}${o.dc ? ` dc=${o.dc}` : ""}`);
      return Promise.resolve(a.health ?? []);
    },
    kvGet: (key: string) => {
      asked.push(`get ${key}`);
      return Promise.resolve(kvEntry(key, "live", 99));
    },
    kvList: (prefix: string) => {
      asked.push(`list ${prefix}`);
      return Promise.resolve({ entries: [], index: 1 });
    },
    nodeHealth: (node: string) => {
      asked.push(`node ${node}`);
      return Promise.resolve([{ CheckID: "serfHealth", Status: "critical" }]);
    },
  };
  // deno-lint-ignore no-explicit-any
  const c = consul as any;
  const first = new FirstReads(c, "cluster/web", "service/web/", "web");
  return { asked, facts: new LiveFacts(c, new IdentityCache(c, config()), undefined, first) };
}

Deno.test("FirstReads: the document, the service's keys and its health come from one wave", async () => {
  const serfHealth = {
    Node: "a1",
    CheckID: "serfHealth",
    Name: "",
    Status: "passing",
    Output: "",
    ServiceID: "",
    ServiceName: "",
    ModifyIndex: 3,
  };
  const entry = healthEntry("a1", "passing", "web-ttl");
  const { asked, facts } = counting({
    txn: () =>
      Promise.resolve([
        kvEntry("cluster/web", "{}", 21),
        kvEntry("service/web/pause", "{}", 30),
        kvEntry("service/web/a1/heartbeat", "5", 31),
      ]),
    health: [{ ...entry, Checks: [...entry.Checks, serfHealth] }],
  });
  assert.equal((await facts.kvGet("cluster/web"))?.modifyIndex, 21);
  assert.deepEqual([...(await facts.heartbeats("service/web/")).beats], [["a1", 31]]);
  assert.deepEqual((await facts.serviceHealth("web")).map((i) => i.node), ["a1"]);
  assert.equal(
    (await facts.nodeChecks("a1")).find((c) => c.CheckID === "serfHealth")?.Status,
    "passing",
  );
  assert.deepEqual(asked, ["txn get cluster/web, get-tree service/web/", "health web"]);
  // what the wave does not answer is asked: other keys, the service's own keys one by one (a
  // prefix read leaves out what the token may not read: the pause flag is never taken from it),
  // another datacenter, a node not in the answer
  assert.equal((await facts.kvGet("other/key"))?.value, "live");
  assert.equal((await facts.kvGet("service/web/pause"))?.modifyIndex, 99);
  await facts.serviceHealth("web", "dc2");
  await facts.nodeChecks("b9");
  assert.deepEqual(asked.slice(2), [
    "get other/key",
    "get service/web/pause",
    "health web dc=dc2",
    "node b9",
  ]);
});

Deno.test("FirstReads: a rolled-back transaction is read key by key; a failed one fails the reads", async () => {
  const back = counting({ txn: () => Promise.resolve(null) });
  assert.equal((await back.facts.kvGet("cluster/web"))?.value, "live");
  await back.facts.heartbeats("service/web/");
  assert.deepEqual(back.asked.slice(2), ["get cluster/web", "list service/web/"]);
  // an answer without the document (the token may not read it: Consul leaves it out) is no
  // answer either: the document is asked alone, and the heartbeats listed alone
  const hidden = counting({
    txn: () => Promise.resolve([kvEntry("service/web/a1/heartbeat", "5", 31)]),
  });
  assert.equal((await hidden.facts.kvGet("cluster/web"))?.value, "live");
  await hidden.facts.heartbeats("service/web/");
  assert.deepEqual(hidden.asked.slice(2), ["get cluster/web", "list service/web/"]);
  const down = counting({ txn: () => Promise.reject(new Error("agent down")) });
  await assert.rejects(down.facts.kvGet("cluster/web"), /agent down/);
  await assert.rejects(down.facts.heartbeats("service/web/"), /agent down/);
  assert.deepEqual(down.asked.slice(2), [], "not asked again");
  // an entry without the node's serfHealth (no node checks in the answer) is asked for
  const bare = counting({
    txn: () => Promise.resolve([kvEntry("cluster/web", "{}", 21)]),
    health: [healthEntry("a1", "passing", "w")],
  });
  assert.equal((await bare.facts.nodeChecks("a1"))[0]?.Status, "critical");
  assert.deepEqual(bare.asked.slice(2), ["node a1"]);
});
