/**
 * `powerconsul watch <warning|critical>` — the handler of a Consul `checks` watch; and
 * `powerconsul watch service -S <svc>` — the event-driven takeover (lib/watch/takeover.ts).
 *
 * stdin: the JSON array of every check in that state across the datacenter, sent at watch
 * creation, on every `consul reload`, and whenever the set changes. The whole
 * array is validated before anything fires; then only this node's service checks in the watched
 * state with a non-empty Output are kept (node comparison before anything else, so a payload of
 * 10,000 foreign checks costs one parse and one pass), and each fires its trigger in process,
 * concurrently, each isolated from the others' failures. Exit 0 once valid input was handled:
 * the agent logs a failing handler and never retries it, and `consul watch` dies on one.
 */
import { type GlobalFlags, type Parsed, required, str } from "../lib/args.ts";
import { type Io, makeContext } from "../lib/context.ts";
import { describeError, UsageError } from "../lib/errors.ts";
import { Exit } from "../lib/exit_codes.ts";
import { fire, type FireResult } from "../lib/triggers/fire.ts";
import { triggerDeps } from "../lib/triggers/deps.ts";
import { type HealthCheck, TRIGGER_STATES, type TriggerState } from "../lib/triggers/plan.ts";
import { LiveSource } from "../lib/triggers/source.ts";
import { parseWatchInput, pool, readPayload, selectLocal } from "../lib/triggers/watch_input.ts";
import type { Command } from "../lib/command.ts";
import { segment } from "../lib/names.ts";
import { FileTakeoverStore } from "../lib/cluster/takeover_store.ts";
import { liveEffects } from "../lib/plan/live.ts";
import { watchService, type WatchServiceArgs } from "../lib/watch/takeover.ts";

const help = `Usage: powerconsul watch <warning|critical> [options]
       powerconsul watch service -S <consulService> [-s <linuxService>[,…]] [options]

Handler of a Consul "checks" watch with the same state. Reads the watch's JSON array from stdin,
keeps this node's service checks in that state (skipping ones with an empty Output: just
registered, not yet run) and fires 'powerconsul trigger' for each, in process. Node checks
(serfHealth, maintenance: empty ServiceName) and other nodes' checks are skipped.

Agent configuration (one watch per state):
  {"watches": [{"type": "checks", "state": "critical",
                "args": ["/usr/local/bin/powerconsul", "watch", "critical"]}]}

'watch service' is the event-driven takeover, the handler of a "service" watch (or a "checks"
watch with "service") on the cluster's service: on every change of its health it decides with
the check's own code and memory, and when this standby's takeover is due it flips the cluster
document (check-and-set, locked, recorded) and fires this node's primary critical trigger at
once, instead of at the check's next run. A failover still inside failoverDamping is waited for
(at most failoverDamping + 1 s). With -s, the trigger is fired only if the service is stopped.
  {"watches": [{"type": "service", "service": "web",
                "args": ["/usr/local/bin/powerconsul", "watch", "service", "-S", "web",
                         "-s", "apache2"]}]}

Options:
  --dry-run   print the plan of every trigger it would fire (and the flip); run nothing
  -S, --consulservice NAME  (service) the cluster's Consul service
  -s, --service NAMES       (service) local service(s) to look at before firing

Exit: 0 once valid input was handled (service: once the state was read and acted on; 3 when it
could not be read: nothing done) (the triggers' outcomes are logged under
<logDir>/watch/<state>.log and <logDir>/trigger/); 1 invalid input (empty stdin, a terminal,
invalid JSON, not an array, an entry without Node or ServiceName) — nothing is fired then;
2 bad command line; 3 the local node could not be determined.

Example: consul watch -type checks -state critical | powerconsul watch critical --dry-run
`;

/** Entries fired at the same time (a watch normally carries one or two local checks). */
const CONCURRENCY = 8;

const OPTIONS = {
  consulservice: { type: "string", short: "S" },
  service: { type: "string", short: "s" },
} as const;

/** `watch service -S <svc> [-s a,b]` (pure). */
export function parseWatchServiceArgs(p: Parsed): WatchServiceArgs {
  if (p.positionals.length > 1) throw new UsageError(`unexpected argument "${p.positionals[1]}"`);
  const consulService = segment("-S/--consulservice", required(p, "consulservice", "S"));
  const services = (str(p, "service") ?? "").split(",").map((s) => s.trim()).filter((s) => s);
  for (const s of services) segment("-s/--service", s);
  return { consulService, services };
}

export function parseWatchArgs(p: Parsed): TriggerState {
  const state = p.positionals[0];
  if (str(p, "consulservice") !== undefined || str(p, "service") !== undefined) {
    throw new UsageError("-S and -s belong to 'watch service'");
  }
  if (!state) throw new UsageError(`missing state: one of ${TRIGGER_STATES.join(", ")}`);
  if (!(TRIGGER_STATES as readonly string[]).includes(state)) {
    throw new UsageError(`unknown state "${state}": one of ${TRIGGER_STATES.join(", ")}`);
  }
  if (p.positionals.length > 1) throw new UsageError(`unexpected argument "${p.positionals[1]}"`);
  return state as TriggerState;
}

export const command: Command = {
  name: "watch",
  help,
  options: OPTIONS,
  async run(p: Parsed, g: GlobalFlags, io: Io): Promise<number> {
    if (p.positionals[0] === "service") return await runService(p, g, io);
    const state = parseWatchArgs(p);
    const ctx = await makeContext(io, g);
    const wlog = g.dryRun ? undefined : ctx.logger(`watch/${state}.log`, "watch", "-");
    // The agent that runs this handler is its parent: a deferred run it outlives is dropped.
    const parent = Deno.ppid;
    const started = performance.now();
    let checks: HealthCheck[];
    try {
      checks = parseWatchInput(await readPayload(ctx));
    } catch (e) {
      wlog?.error(`invalid input, nothing fired: ${describeError(e)}`);
      throw e;
    }
    const parsedMs = performance.now() - started;
    const index = io.env("CONSUL_INDEX");
    // Cheap filter first: with nothing in the state there is no need to ask for the node.
    const candidates = checks.filter((c) => c.Status === state);
    if (candidates.length === 0) {
      wlog?.info(`${checks.length} checks received (index ${index ?? "-"}): none ${state}`);
      return Exit.OK;
    }
    const source = new LiveSource(ctx.consul, ctx.config);
    let node: string;
    const asked = performance.now();
    try {
      node = await source.localNode();
    } catch (e) {
      wlog?.error(`cannot tell the local node, nothing fired: ${describeError(e)}`);
      io.err(`powerconsul watch: cannot tell the local node: ${describeError(e)}\n`);
      return Exit.UNKNOWN;
    }
    const nodeMs = performance.now() - asked;
    const t = performance.now();
    const sel = selectLocal(candidates, node, state);
    const ms = (x: number) => Math.round(x * 10) / 10;
    wlog?.info(
      `${checks.length} checks received (index ${index ?? "-"}), ${candidates.length} ${state}; ` +
        `node ${node}: ${sel.fire.length} to fire, ${sel.unrun} not yet run (empty Output), ` +
        `${sel.nodeChecks} node checks skipped; read, parsed and validated in ${
          ms(parsedMs)
        } ms, ` +
        `selected in ${ms(performance.now() - t)} ms (node name lookup ${ms(nodeMs)} ms)`,
    );
    if (sel.fire.length === 0) return Exit.OK;
    const deps = triggerDeps(ctx, source, (l) => io.out(l + "\n"));
    deps.stillWanted = () => Deno.ppid === parent;
    const results = await pool(sel.fire, CONCURRENCY, async (c) => {
      const label = `${c.ServiceName} (check ${c.CheckID || "-"})`;
      try {
        const r: FireResult = await fire(c, state, deps);
        const line = `${label}: ${r.outcome}, exit ${r.code}: ${r.message}`;
        if (r.outcome !== "planned") wlog?.info(line);
        return { ok: true, line };
      } catch (e) {
        const line = `${label}: failed: ${describeError(e)}`;
        wlog?.error(line);
        return { ok: false, line };
      }
    });
    if (!g.dryRun) {
      for (const r of results) io.out(`${r.line}\n`);
    }
    return Exit.OK;
  },
};

/** `watch service`: the event-driven takeover. */
async function runService(p: Parsed, g: GlobalFlags, io: Io): Promise<number> {
  const a = parseWatchServiceArgs(p);
  const ctx = await makeContext(io, g);
  const wlog = g.dryRun ? undefined : ctx.logger(`watch/service.log`, "watch", a.consulService);
  const log = { info: (m: string) => wlog?.info(m), warn: (m: string) => wlog?.warn(m) };
  // The payload is only the wake-up: the state is read fresh. Read it so the agent's write ends.
  await readPayload(ctx).catch(() => null);
  const source = new LiveSource(ctx.consul, ctx.config);
  const deps = triggerDeps(ctx, source, (l) => io.out(l + "\n"));
  deps.stateKnown = true;
  const parent = Deno.ppid;
  deps.stillWanted = () => Deno.ppid === parent;
  try {
    const o = await watchService({
      consul: ctx.consul,
      runner: ctx.runner,
      config: ctx.config,
      effects: liveEffects(ctx.consul, ctx.runner),
      store: new FileTakeoverStore(),
      dryRun: g.dryRun,
      remainingMs: () => ctx.deadline.remainingMs(),
      fire: (c) => fire(c, "critical", deps),
      log,
      print: (l) => io.out(`dry-run: ${l}\n`),
    }, a);
    (o.action === "nothing" ? log.info : log.warn)(`${a.consulService}: ${o.action}: ${o.message}`);
    if (!g.dryRun) io.out(`${a.consulService}: ${o.action}: ${o.message}\n`);
    return Exit.OK;
  } catch (e) {
    wlog?.error(`${a.consulService}: unknown state, nothing done: ${describeError(e)}`);
    io.err(`powerconsul watch service: unknown state, nothing done: ${describeError(e)}\n`);
    return Exit.UNKNOWN;
  }
}
