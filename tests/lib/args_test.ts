import assert from "node:assert/strict";
import { globalFlags, parseArgv } from "../../lib/args.ts";
import { UsageError } from "../../lib/errors.ts";

Deno.test("parseArgv() takes option values that start with a dash (old -n usage)", () => {
  const p = parseArgv(["process", "-n", "-c 1:1 -C sshd", "-S", "ssh", "--dry-run"], {
    nagiosargs: { type: "string", short: "n" },
    consulservice: { type: "string", short: "S" },
  });
  assert.equal(p.values.nagiosargs, "-c 1:1 -C sshd");
  assert.equal(p.values.consulservice, "ssh");
  assert.deepEqual(p.positionals, ["process"]);
  assert.equal(globalFlags(p).dryRun, true);
});

Deno.test("parseArgv() accepts global flags anywhere and rejects unknown ones", () => {
  const p = parseArgv(["--config=/x", "a", "--http-addr", "h:1", "-S", "s"], {
    consulservice: { type: "string", short: "S" },
  });
  const g = globalFlags(p);
  assert.equal(g.config, "/x");
  assert.equal(g.httpAddr, "h:1");
  assert.throws(() => parseArgv(["--bogus"], {}), UsageError);
  assert.throws(() => parseArgv(["-Z"], {}), UsageError);
  assert.throws(() => parseArgv(["--config"], {}), /needs a value/);
  assert.throws(() => globalFlags(parseArgv(["--output", "xml"], {})), UsageError);
});
