import assert from "node:assert/strict";
import { servicesWithDocs } from "../../../lib/history/services.ts";
import { ConfigError } from "../../../lib/errors.ts";
import { kvEntry } from "../../_support/cluster.ts";

Deno.test("servicesWithDocs(): the documents directly under clusterKey, sorted", async () => {
  let asked = "";
  const kv = {
    kvList(prefix: string) {
      asked = prefix;
      const keys = ["cluster/prod/web", "cluster/prod/db", "cluster/prod/web/extra"];
      return Promise.resolve({ entries: keys.map((k) => kvEntry(k, "{}", 1)) });
    },
  };
  assert.deepEqual(await servicesWithDocs(kv, { clusterKey: "cluster/prod" }), ["db", "web"]);
  assert.equal(asked, "cluster/prod/");
  await assert.rejects(servicesWithDocs(kv, { clusterKey: null }), ConfigError);
});
