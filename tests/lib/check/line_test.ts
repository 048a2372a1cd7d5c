import assert from "node:assert/strict";
import { lineClaimsActive, renderCheck } from "../../../lib/check/line.ts";

Deno.test("renderCheck() prints the old tool's JSON line or the message alone", () => {
  const r = {
    type: "service",
    resource: "apache2",
    consulService: "web",
    expects: true,
    clustered: true,
    role: "secondary",
    state: "passing" as const,
    message: "ok",
  };
  const j = JSON.parse(renderCheck(r, "json"));
  assert.deepEqual(j, {
    type: "service",
    service: "apache2",
    consulService: "web",
    expects: true,
    clustered: true,
    role: "secondary",
    state: "passing",
    code: 0,
    message: "ok",
  });
  assert.equal(renderCheck(r, "text"), "ok");
  assert.equal(
    JSON.parse(renderCheck({ ...r, type: "crontab", state: "unknown" }, "json")).code,
    3,
  );
});

Deno.test("lineClaimsActive() reads back only a passing check line that expects running", () => {
  const line = (o: Record<string, unknown>) => JSON.stringify(o);
  assert.equal(lineClaimsActive(line({ expects: true, state: "passing" }) + "\n"), true);
  assert.equal(lineClaimsActive("noise\n" + line({ expects: true, state: "passing" })), true);
  assert.equal(lineClaimsActive(line({ expects: false, state: "passing" })), false);
  assert.equal(lineClaimsActive(line({ expects: true, state: "critical" })), false);
  assert.equal(lineClaimsActive("{not json"), false);
  assert.equal(lineClaimsActive(""), false);
  assert.equal(lineClaimsActive(undefined), false);
  // what one check renders, another reads back
  const r = {
    type: "service",
    resource: "apache2",
    consulService: "web",
    expects: true,
    clustered: true,
    role: "primary",
    state: "passing" as const,
    message: "ok",
  };
  assert.equal(lineClaimsActive(renderCheck(r, "json") + "\n"), true);
  assert.equal(lineClaimsActive(renderCheck({ ...r, expects: false }, "json")), false);
  assert.equal(lineClaimsActive(renderCheck(r, "text")), false);
});

Deno.test("renderCheck text: Nagios perfdata after the message, only with a duration and no '|'", async () => {
  const { renderCheck, perfdata } = await import("../../../lib/check/line.ts");
  const r = {
    type: "service",
    resource: "apache2",
    consulService: "web",
    expects: true,
    clustered: true,
    role: "secondary",
    state: "passing" as const,
    message: "apache2 running; should be running",
  };
  assert.equal(renderCheck(r, "text"), r.message, "no duration: the message alone");
  const timed = { ...r, durationMs: 1234.5 };
  assert.equal(perfdata(timed), " | duration=1.234s role=2;;;-1;2");
  assert.equal(renderCheck(timed, "text"), `${r.message} | duration=1.234s role=2;;;-1;2`);
  assert.ok(renderCheck(timed, "text").startsWith(r.message), "Consul shows the message first");
  assert.equal(renderCheck({ ...timed, message: "a|b" }, "text"), "a|b");
  assert.doesNotMatch(renderCheck(timed, "json"), /duration/, "the JSON line is unchanged");
});
