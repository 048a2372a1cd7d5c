/**
 * The body shared by `pause` and `resume`: parse, read every named service's flag, plan (pure,
 * lib/ops/pause_plan.ts), apply through the executor (a dry run prints the steps), report.
 */
import { bool, type GlobalFlags, type Parsed, str } from "../args.ts";
import { IdentityCache } from "../cluster/facts.ts";
import { type Io, makeContext } from "../context.ts";
import { UsageError } from "../errors.ts";
import { Exit } from "../exit_codes.ts";
import { servicesWithDocs } from "../history/services.ts";
import { segment } from "../names.ts";
import { Executor } from "../plan/apply.ts";
import { liveEffects } from "../plan/live.ts";
import { readPause } from "./pause.ts";
import { planPause, planResume } from "./pause_plan.ts";

export const PAUSE_OPTIONS = {
  consulservice: { type: "string", short: "S" },
  all: { type: "boolean" },
  reason: { type: "string" },
  json: { type: "boolean" },
} as const;

export async function pauseOrResume(
  which: "pause" | "resume",
  p: Parsed,
  g: GlobalFlags,
  io: Io,
): Promise<number> {
  if (p.positionals.length > 0) throw new UsageError(`unexpected argument "${p.positionals[0]}"`);
  const S = str(p, "consulservice");
  const all = bool(p, "all");
  if ((S === undefined) === !all) throw new UsageError("name one service with -S, or give --all");
  if (S !== undefined) segment("-S/--consulservice", S);
  const reason = str(p, "reason");
  if (which === "resume" && reason !== undefined) {
    throw new UsageError("--reason belongs to pause");
  }
  if (
    reason !== undefined && (reason.trim() === "" || [...reason].some((c) => c.charCodeAt(0) < 32))
  ) {
    throw new UsageError("--reason must be one line of text");
  }
  const ctx = await makeContext(io, g);
  const services = S !== undefined ? [S] : await servicesWithDocs(ctx.consul, ctx.config);
  const node = await new IdentityCache(ctx.consul, ctx.config).node();
  const inputs = await Promise.all(
    services.map(async (service) => ({
      service,
      state: await readPause(ctx.consul, ctx.config, service),
    })),
  );
  const plan = which === "pause"
    ? planPause(ctx.config, inputs, { node, reason: reason ?? "paused by an operator" })
    : planResume(ctx.config, inputs, { node });
  const json = bool(p, "json") || g.output === "json";
  const ex = new Executor(liveEffects(ctx.consul, ctx.runner), {
    dryRun: g.dryRun,
    print: (l) => io.out(`dry-run: ${l}\n`),
  });
  if (plan.steps.length === 0) ex.seal();
  const done: string[] = [];
  const failed = [...plan.refusals];
  for (const s of plan.steps) {
    const o = await ex.apply(s);
    const svc = s.kind === "kv-write" || s.kind === "kv-delete" ? s.why.split(" ")[1]! : "";
    if (o.ok) done.push(svc);
    else failed.push(`${svc}: not ${which}d (${o.detail})`);
  }
  if (json) {
    io.out(JSON.stringify({ action: which, dryRun: g.dryRun, done, refused: failed }) + "\n");
  } else if (!g.dryRun) {
    for (const s of done) io.out(`${s}: ${which}d\n`);
  }
  for (const f of failed) io.err(`powerconsul ${which}: ${f}\n`);
  if (which === "pause" && plan.malformed) return Exit.UNKNOWN;
  return failed.length > 0 ? Exit.FAILED : Exit.OK;
}
