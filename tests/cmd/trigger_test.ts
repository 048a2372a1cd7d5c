// `trigger`'s command line, validated before any I/O.
import assert from "node:assert/strict";
import { parseArgv } from "../../lib/args.ts";
import { UsageError } from "../../lib/errors.ts";
import { parseTriggerArgs } from "../../cmd/trigger.ts";

Deno.test("parseTriggerArgs() validates everything before any I/O", async (t) => {
  const check = '{"Node":"n1","ServiceName":"web","CheckID":"c"}';
  const opts = {
    check: { type: "string", short: "s" },
    consulservice: { type: "string", short: "S" },
    "kv-snapshot": { type: "string" },
    dc: { type: "string" },
    actives: { type: "string" },
  } as const;
  const parse = (argv: string[]) => parseTriggerArgs(parseArgv(argv, opts));
  await t.step("fire", () => {
    const a = parse(["critical", "-s", check]);
    assert.equal(a.mode, "fire");
    if (a.mode === "fire") assert.equal(a.check.ServiceName, "web");
  });
  await t.step("reset", () =>
    assert.deepEqual(parse(["reset", "-S", "web"]), {
      mode: "reset",
      service: "web",
    }));
  await t.step("snapshot", () => {
    const a = parse([
      "warning",
      "--dry-run",
      "--kv-snapshot",
      "f",
      "--dc",
      "dc2",
      "--actives",
      "failing",
      "-s",
      check,
    ]);
    assert.deepEqual(a.mode === "fire" && [a.snapshot, a.dc, a.actives], ["f", "dc2", "failing"]);
  });
  const bad: Record<string, [string[], RegExp]> = {
    "no state": [[], /missing state/],
    "bad state": [["passing", "-s", check], /unknown state "passing"/],
    "no -s": [["critical"], /missing required option -s/],
    "-s not JSON": [["critical", "-s", "{"], /-s is not valid JSON/],
    "-s without Node": [["critical", "-s", '{"ServiceName":"w"}'], /-s has no Node/],
    "-s node check": [["critical", "-s", '{"Node":"n","ServiceName":""}'], /empty ServiceName/],
    "snapshot without dry-run": [
      ["critical", "--kv-snapshot", "f", "-s", check],
      /needs --dry-run/,
    ],
    "bad --actives": [
      ["critical", "--dry-run", "--kv-snapshot", "f", "--actives", "up", "-s", check],
      /--actives must be passing or failing/,
    ],
    "--dc without snapshot": [["critical", "--dc", "x", "-s", check], /describe a --kv-snapshot/],
    "-S on fire": [["critical", "-S", "web", "-s", check], /-S applies to reset/],
    "-s on reset": [["reset", "-s", check], /does not apply to reset/],
    "extra word": [["critical", "x", "-s", check], /unexpected argument "x"/],
  };
  for (const [name, [argv, re]] of Object.entries(bad)) {
    await t.step(`rejects: ${name}`, () => {
      assert.throws(() => parse(argv), (e: Error) => {
        assert.ok(e instanceof UsageError, String(e));
        assert.match(e.message, re);
        return true;
      });
    });
  }
});
