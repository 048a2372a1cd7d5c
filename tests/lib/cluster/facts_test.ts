import assert from "node:assert/strict";
import {
  clusterKeyFor,
  clusterPrefixFor,
  healKey,
  IdentityCache,
  LiveFacts,
} from "../../../lib/cluster/facts.ts";
import { UsageError } from "../../../lib/errors.ts";
import { config } from "../../_support/cluster.ts";

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
