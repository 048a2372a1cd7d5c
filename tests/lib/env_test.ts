import assert from "node:assert/strict";
import { envBool, envFrom, processEnv } from "../../lib/env.ts";

Deno.test("envBool(): Consul's boolean words; anything else is unset", () => {
  for (const v of ["1", "t", "TRUE", " yes ", "y", "on"]) assert.equal(envBool(v), true, v);
  for (const v of ["0", "f", "False", "no", "n", "off"]) assert.equal(envBool(v), false, v);
  for (const v of [undefined, "", "maybe", "2"]) assert.equal(envBool(v), undefined, String(v));
});

Deno.test("envFrom() reads a plain object; processEnv reads the process", () => {
  const env = envFrom({ A: "1", B: undefined });
  assert.equal(env("A"), "1");
  assert.equal(env("B"), undefined);
  assert.equal(env("C"), undefined);
  assert.equal(processEnv("PATH"), Deno.env.get("PATH"));
  assert.equal(processEnv("POWERCONSUL_SURELY_UNSET_" + crypto.randomUUID()), undefined);
});
