// `@VAR`s: one tokenizer for substitution, the paste guard and the warnings.
import assert from "node:assert/strict";
import {
  substitute,
  tokens,
  tokenWarnings,
  type TriggerContext,
  unsafePastes,
  variables,
} from "../../../lib/triggers/vars.ts";

const ctx: TriggerContext = {
  service: "web",
  node: "n1",
  role: "primary",
  state: "critical",
  check: "web-check",
  dc: "dc1",
};

Deno.test("substitute() replaces longest names first, in one pass", async (t) => {
  const vars = new Map([
    ["SERVICE", "web"],
    ["SERVICE_PORT", "8080"],
    ["NODE", "n1"],
    ["EVIL", "@NODE $(x)"],
  ]);
  const cases: Record<string, [string, string]> = {
    "simple": ["svc=@SERVICE", "svc=web"],
    "longest first": ["@SERVICE_PORT/@SERVICE", "8080/web"],
    "adjacent": ["@SERVICE@NODE", "webn1"],
    "unknown left alone": ["@NOPE user@host", "@NOPE user@host"],
    "values are not rescanned": ["@EVIL", "@NODE $(x)"],
    "no @ at all": ["plain", "plain"],
    "case sensitive": ["@service", "@service"],
  };
  for (const [name, [text, want]] of Object.entries(cases)) {
    await t.step(name, () => assert.equal(substitute(text, vars), want));
  }
});

Deno.test("variables() puts subVars (with or without @) over built-ins and reports it", () => {
  const { vars, shadowed } = variables({ ENV: "prod", ROLE: "webserver" }, ctx);
  assert.equal(vars.get("ENV"), "prod");
  assert.equal(vars.get("ROLE"), "webserver");
  assert.equal(vars.get("NODE"), "n1");
  assert.deepEqual(shadowed, ["ROLE"]);
});

Deno.test("tokens(): one reading of @NAMEs for substitution, the guard and the warnings", async (t) => {
  const names = ["SERVICE", "SERVICE_PORT", "CHECK", "NODE"];
  const cases: Record<string, [string, unknown[]]> = {
    "glued word characters stay text after the name": ["@CHECK_ID", [
      { kind: "var", name: "CHECK", rest: "_ID" },
      { kind: "text", text: "_ID" },
    ]],
    "longest name": ["@SERVICE_PORT", [{ kind: "var", name: "SERVICE_PORT", rest: "" }]],
    "digits glued": ["@NODE1", [
      { kind: "var", name: "NODE", rest: "1" },
      { kind: "text", text: "1" },
    ]],
    "unknown upper-case name": ["x @SERVCE y", [
      { kind: "text", text: "x " },
      { kind: "unknown", name: "SERVCE" },
      { kind: "text", text: " y" },
    ]],
    "mail address is text": ["ops@example.com", [{ kind: "text", text: "ops@example.com" }]],
  };
  for (const [name, [text, want]] of Object.entries(cases)) {
    await t.step(name, () => assert.deepEqual(tokens(text, names), want));
  }
});

Deno.test("unsafePastes() and tokenWarnings() walk the same tokens as substitute()", () => {
  const vars = new Map([["CHECK", "$(id>&2)"], ["NODE", "n1"]]);
  const ts = tokens('echo "@CHECK_ID @NODE1 @NOPE"', vars.keys());
  assert.deepEqual(unsafePastes(ts, vars, new Set(["CHECK", "NODE"])), [
    { name: "CHECK", value: "$(id>&2)" },
  ]);
  assert.deepEqual(tokenWarnings(ts), [
    '@CHECK_ID is read as @CHECK followed by "_ID"',
    '@NODE1 is read as @NODE followed by "1"',
    "@NOPE is not a trigger variable: it is passed through literally",
  ]);
  assert.equal(substitute('echo "@CHECK_ID"', vars), 'echo "$(id>&2)_ID"');
});
