// `powerconsul service` argument parsing: everything validated before any request.
import assert from "node:assert/strict";
import { UsageError } from "../../lib/errors.ts";
import { defaultLockFile } from "../../lib/service/plan.ts";
import { parseServiceArgv } from "../../cmd/service.ts";
import { cli } from "../_cli.ts";

Deno.test("parseServiceArgv() validates name, action, -S and defaults before any request", async (t) => {
  const ok = parseServiceArgv(["web", "start", "-S", "websvc"]).args;
  assert.deepEqual(ok.services, ["web"]);
  assert.equal(ok.lockFile, defaultLockFile("web"));
  assert.equal(ok.lockFileGiven, false);
  const full = parseServiceArgv(["web", "restart", "-S", "w", "-s", "a, b", "-F", "/var/lock/x"]);
  assert.deepEqual(full.args.services, ["a", "b"]);
  assert.equal(full.args.lockFile, "/var/lock/x");
  assert.equal(parseServiceArgv(["web", "start-primary", "-S", "w", "--abort"]).args.abort, true);
  assert.equal(parseServiceArgv(["web", "status", "-S", "w", "--json"]).json, true);
  const bad: Record<string, [string[], RegExp]> = {
    "no name": [[], /missing service name/],
    "no action": [["web"], /missing action/],
    "unknown action": [["web", "reload", "-S", "w"], /unknown action "reload"/],
    "no -S": [["web", "start"], /-S\/--consulservice/],
    "extra word": [["web", "start", "x", "-S", "w"], /unexpected argument "x"/],
    "empty -s": [["web", "start", "-S", "w", "-s", ","], /names no service/],
    "bad name": [["web", "start", "-S", "w", "-s", "a;rm"], /invalid service name/],
    "twice": [["web", "start", "-S", "w", "-s", "a,a"], /twice/],
    "abort elsewhere": [["web", "start", "-S", "w", "--abort"], /--abort goes with/],
    "relative -F": [["web", "start", "-S", "w", "-F", "x.lock"], /absolute/],
  };
  for (const [name, [argv, re]] of Object.entries(bad)) {
    await t.step(name, () => {
      assert.throws(
        () => parseServiceArgv(argv),
        (e) => e instanceof UsageError && re.test(e.message),
      );
    });
  }
});

Deno.test("parseServiceArgv() refuses a dot segment in -S, the name or -s: no KV path can climb out of service/", () => {
  for (
    const argv of [
      ["web", "start-primary", "--abort", "-S", ".."],
      ["web", "start-primary", "-S", "."],
      ["..", "start", "-S", "web"],
      ["web", "stop", "-S", "web", "-s", "a,.."],
    ]
  ) {
    assert.throws(
      () => parseServiceArgv(argv),
      (e) => e instanceof UsageError && /cannot be "\.\.?"/.test(e.message),
      argv.join(" "),
    );
  }
});

Deno.test("service start-primary --abort -S ..: one line, exit 2, no agent contacted", async () => {
  // The agent address is a closed port: any request would fail differently (exit 3).
  const r = await cli(["service", "web", "start-primary", "--abort", "-S", ".."], {
    env: { CONSUL_HTTP_ADDR: "127.0.0.1:1" },
    net: "127.0.0.1:1",
  });
  assert.equal(r.code, 2, `${r.stdout}${r.stderr}`);
  assert.equal(r.stdout, "");
  // the usage error's line, then the standard pointer to --help
  assert.deepEqual(r.stderr.trimEnd().split("\n"), [
    'powerconsul service: -S/--consulservice cannot be "..": ".."',
    "Run 'powerconsul service --help' for usage.",
  ]);
});
