import assert from "node:assert/strict";
import { parseArgv } from "../../lib/args.ts";
import { UsageError } from "../../lib/errors.ts";
import { parseCheckArgs } from "../../cmd/check.ts";

Deno.test("parseCheckArgs() validates before any request", async (t) => {
  const spec = {
    consulservice: { type: "string", short: "S" },
    service: { type: "string", short: "s" },
    user: { type: "string", short: "u" },
    nagiosargs: { type: "string", short: "n" },
    procre: { type: "string", short: "R" },
    updatekv: { type: "boolean", short: "U" },
  } as const;
  const bad: Record<string, string[]> = {
    "no kind": ["-S", "x"],
    "unknown kind": ["bogus", "-S", "x"],
    "missing -S": ["service", "-s", "a"],
    "missing -s": ["service", "-S", "x"],
    "two services for service": ["service", "-s", "a,b", "-S", "x"],
    "bad service name": ["service", "-s", "a;b", "-S", "x"],
    "missing -u": ["crontab", "-S", "x"],
    "missing -n": ["process", "-S", "x"],
    "bad regex": ["service", "-s", "a", "-S", "x", "-R", "("],
    "catastrophic regex": ["service", "-s", "a", "-S", "x", "-R", "(a+)+$"],
    "-S climbing out of its prefix": ["service", "-s", "a", "-S", "../x"],
    "-S a dot segment": ["process", "-n", "-c 1:", "-S", ".."],
    "-S empty": ["service", "-s", "a", "-S", ""],
  };
  for (const [name, argv] of Object.entries(bad)) {
    await t.step(
      name,
      () => assert.throws(() => parseCheckArgs(parseArgv(argv, spec)), UsageError),
    );
  }
  const ok = parseCheckArgs(parseArgv(["servicegroup", "-s", "a, b", "-S", "x", "-U"], spec));
  assert.deepEqual(ok.services, ["a", "b"]);
  assert.equal(ok.updateKv, true);
});
