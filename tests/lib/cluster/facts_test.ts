import assert from "node:assert/strict";
import { clusterKeyFor, clusterPrefixFor, IdentityCache } from "../../../lib/cluster/facts.ts";
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
