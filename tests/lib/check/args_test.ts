import assert from "node:assert/strict";
import { type CheckArgs, resourceOf } from "../../../lib/check/args.ts";

Deno.test("resourceOf() names the resource the way the check's JSON line does", () => {
  const base: CheckArgs = {
    kind: "service",
    consulService: "web",
    services: ["a"],
    updateKv: false,
  };
  assert.equal(resourceOf(base), "a");
  assert.equal(resourceOf({ ...base, kind: "servicegroup", services: ["a", "b"] }), "a,b");
  assert.equal(resourceOf({ ...base, kind: "crontab", user: "bob" }), "bob");
  assert.equal(
    resourceOf({ ...base, kind: "process", nagiosArgs: "-c 1:1 -C sshd" }),
    "-c 1:1 -C sshd",
  );
});
