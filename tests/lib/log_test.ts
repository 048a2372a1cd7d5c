import assert from "node:assert/strict";
import { join } from "node:path";
import { Logger, redact } from "../../lib/log.ts";

Deno.test("Logger writes one line per event, rotates, redacts, and survives an unwritable root", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const errs: string[] = [];
    const l = new Logger({
      logDir: dir,
      file: "check/x.log",
      component: "check",
      service: "web",
      clock: () => new Date("2026-01-01T00:00:00Z"),
      stderr: (s) => errs.push(s),
      rotateBytes: 200,
    });
    l.addSecret("s3cr3t-token");
    l.info("hello s3cr3t-token\nsecond line");
    const text = await Deno.readTextFile(join(dir, "check/x.log"));
    assert.equal(text, "2026-01-01T00:00:00.000Z INFO check web hello <redacted>\\nsecond line\n");
    for (let i = 0; i < 10; i++) l.info("x".repeat(40));
    assert.ok((await Deno.stat(join(dir, "check/x.log.1"))).isFile);
    assert.ok((await Deno.stat(join(dir, "check/x.log"))).size <= 200);
    const bad = new Logger({
      logDir: "/proc/nope",
      file: "a.log",
      component: "c",
      service: "s",
      stderr: (s) => errs.push(s),
    });
    bad.info("a");
    bad.info("b");
    assert.equal(errs.length, 1, "one warning, then quiet");
    assert.equal(redact("a tok1234 b", ["tok1234"]), "a <redacted> b");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
