/**
 * `powerconsul watch <warning|critical>` — the handler of a Consul `checks` watch.
 *
 * stdin: the JSON array of every check in that state across the datacenter, sent at watch
 * creation, on every `consul reload`, and whenever the set changes. The whole
 * array is validated before anything fires; then only this node's service checks in the watched
 * state with a non-empty Output are kept (node comparison before anything else, so a payload of
 * 10,000 foreign checks costs one parse and one pass), and each fires its trigger in process,
 * concurrently, each isolated from the others' failures. Exit 0 once valid input was handled:
 * the agent logs a failing handler and never retries it, and `consul watch` dies on one.
 */
import type { GlobalFlags, Parsed } from "../lib/args.ts";
import { type Io, makeContext } from "../lib/context.ts";
import { describeError, UsageError } from "../lib/errors.ts";
import { Exit } from "../lib/exit_codes.ts";
import { fire, type FireResult } from "../lib/triggers/fire.ts";
import { triggerDeps } from "../lib/triggers/deps.ts";
import { type HealthCheck, TRIGGER_STATES, type TriggerState } from "../lib/triggers/plan.ts";
import { LiveSource } from "../lib/triggers/source.ts";
import { parseWatchInput, pool, readPayload, selectLocal } from "../lib/triggers/watch_input.ts";
import type { Command } from "../lib/command.ts";

const help = `Usage: powerconsul watch <warning|critical> [options]

Handler of a Consul "checks" watch with the same state. Reads the watch's JSON array from stdin,
keeps this node's service checks in that state (skipping ones with an empty Output: just
registered, not yet run) and fires 'powerconsul trigger' for each, in process. Node checks
(serfHealth, maintenance: empty ServiceName) and other nodes' checks are skipped.

Agent configuration (one watch per state):
  {"watches": [{"type": "checks", "state": "critical",
                "args": ["/usr/local/bin/powerconsul", "watch", "critical"]}]}

Options:
  --dry-run   print the plan of every trigger it would fire; run nothing

Exit: 0 once valid input was handled (the triggers' outcomes are logged under
<logDir>/watch/<state>.log and <logDir>/trigger/); 1 invalid input (empty stdin, a terminal,
invalid JSON, not an array, an entry without Node or ServiceName) — nothing is fired then;
2 bad command line; 3 the local node could not be determined.

Example: consul watch -type checks -state critical | powerconsul watch critical --dry-run
`;

/** Entries fired at the same time (a watch normally carries one or two local checks). */
const CONCURRENCY = 8;

export function parseWatchArgs(p: Parsed): TriggerState {
  const state = p.positionals[0];
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
  options: {},
  async run(p: Parsed, g: GlobalFlags, io: Io): Promise<number> {
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
