// The watch command's own argument: the state it handles.
import assert from "node:assert/strict";
import { parseArgv } from "../../lib/args.ts";
import { UsageError } from "../../lib/errors.ts";
import { parseWatchArgs } from "../../cmd/watch.ts";

Deno.test("parseWatchArgs(): exactly one state, warning or critical", () => {
  assert.equal(parseWatchArgs(parseArgv(["critical"], {})), "critical");
  assert.equal(parseWatchArgs(parseArgv(["--dry-run", "warning"], {})), "warning");
  const bad: [string[], RegExp][] = [
    [[], /missing state: one of warning, critical/],
    [["passing"], /unknown state "passing"/],
    [["critical", "extra"], /unexpected argument "extra"/],
  ];
  for (const [argv, re] of bad) {
    assert.throws(
      () => parseWatchArgs(parseArgv(argv, {})),
      (e: Error) => e instanceof UsageError && re.test(e.message),
      argv.join(" "),
    );
  }
});
