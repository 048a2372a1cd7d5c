import assert from "node:assert/strict";
import {
  ClusterError,
  ConfigError,
  describeError,
  PowerconsulError,
  ProbeError,
  UsageError,
} from "../../lib/errors.ts";
import { Exit } from "../../lib/exit_codes.ts";

Deno.test("each error kind carries its exit code and its own name", () => {
  const cases: [PowerconsulError, number, string][] = [
    [new UsageError("u"), Exit.USAGE, "UsageError"],
    [new ConfigError("c"), Exit.UNKNOWN, "ConfigError"],
    [new ClusterError("d"), Exit.UNKNOWN, "ClusterError"],
    [new ProbeError("p"), Exit.UNKNOWN, "ProbeError"],
    [new PowerconsulError("x"), Exit.UNKNOWN, "PowerconsulError"],
    [new PowerconsulError("y", Exit.FAILED), Exit.FAILED, "PowerconsulError"],
  ];
  for (const [e, code, name] of cases) {
    assert.equal(e.exitCode, code, name);
    assert.equal(e.name, name);
    assert.ok(e instanceof PowerconsulError);
  }
});

Deno.test("describeError(): one line, never a stack trace", () => {
  assert.equal(describeError(new Error("first\nsecond\n    at x")), "first");
  assert.equal(describeError(new TypeError("")), "TypeError");
  assert.equal(describeError("plain"), "plain");
  assert.equal(describeError(42), "42");
  const denied = new Error('Requires run access to "x"\nmore');
  denied.name = "NotCapable";
  assert.equal(
    describeError(denied),
    `blocked by the binary's permission sandbox: Requires run access to "x"`,
  );
});
