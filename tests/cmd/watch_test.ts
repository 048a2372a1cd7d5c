// The watch command's own argument: the state it handles.
import assert from "node:assert/strict";
import { parseArgv } from "../../lib/args.ts";
import { UsageError } from "../../lib/errors.ts";
import { parseWatchArgs, parseWatchServiceArgs } from "../../cmd/watch.ts";

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

Deno.test("parseWatchServiceArgs(): -S required, -s optional (a list), nothing else", () => {
  const o = {
    consulservice: { type: "string", short: "S" },
    service: { type: "string", short: "s" },
  } as const;
  assert.deepEqual(parseWatchServiceArgs(parseArgv(["service", "-S", "web"], o)), {
    consulService: "web",
    services: [],
  });
  assert.deepEqual(
    parseWatchServiceArgs(parseArgv(["service", "-S", "web", "-s", "apache2, php"], o)),
    { consulService: "web", services: ["apache2", "php"] },
  );
  const bad: [string[], RegExp][] = [
    [["service"], /-S/],
    [["service", "-S", "a/b"], /-S\/--consulservice/],
    [["service", "-S", "web", "x"], /unexpected argument "x"/],
    [["service", "-S", "web", "-s", "../x"], /-s\/--service/],
  ];
  for (const [argv, re] of bad) {
    assert.throws(
      () => parseWatchServiceArgs(parseArgv(argv, o)),
      (e: Error) => e instanceof UsageError && re.test(e.message),
      argv.join(" "),
    );
  }
  assert.throws(
    () => parseWatchArgs(parseArgv(["critical", "-S", "web"], o)),
    /-S and -s belong to 'watch service'/,
  );
});
