// fire()'s dependencies built from a command's context.
import assert from "node:assert/strict";
import type { Ctx } from "../../../lib/context.ts";
import { triggerDeps } from "../../../lib/triggers/deps.ts";
import type { TriggerSource } from "../../../lib/triggers/source.ts";
import { config } from "../../_support/cluster.ts";
import { RecordingRunner } from "../../_support/fakes.ts";

function ctx(dryRun: boolean, logDir: string) {
  const errs: string[] = [];
  const logs: string[] = [];
  const c = {
    config: config({ logDir }),
    flags: { dryRun, help: false, output: "json" },
    io: { err: (t: string) => void errs.push(t) },
    consul: {},
    runner: new RecordingRunner(),
    logger: (file: string) => {
      logs.push(file);
      return { debug() {}, info() {}, warn() {}, error() {} };
    },
  } as unknown as Ctx;
  return { c, errs, logs };
}

Deno.test("triggerDeps(): the context's config, dry run, format and per-trigger log files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const source = {} as TriggerSource;
    const out: string[] = [];
    const { c, errs, logs } = ctx(true, dir);
    const d = triggerDeps(c, source, (l) => out.push(l));
    assert.equal(d.config, c.config);
    assert.equal(d.source, source);
    assert.equal(d.dryRun, true);
    assert.equal(d.format, "json");
    d.out("line");
    assert.deepEqual(out, ["line"]);
    d.warn!("careful");
    assert.deepEqual(errs, ["powerconsul: warning: careful\n"]);
    d.log("web", "critical");
    assert.deepEqual(logs, ["trigger/state.log", "trigger/web.critical.log"]);
    await d.effects.run({ kind: "run", argv: ["/bin/true"], timeoutMs: 5, label: "t" });
    assert.equal((c.runner as RecordingRunner).calls.length, 1, "effects use the context's runner");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
