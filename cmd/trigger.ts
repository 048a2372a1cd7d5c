/**
 * `powerconsul trigger <warning|critical> -s '<health-check JSON>'` — run the KV action for one
 * check's service, role and state; `powerconsul trigger reset [-S service]` — clear the
 * restart-storm state so a trigger past its burst limit acts again.
 */
import { bool, type GlobalFlags, type Parsed, required, str } from "../lib/args.ts";
import { type Io, makeContext } from "../lib/context.ts";
import { UsageError } from "../lib/errors.ts";
import { parseKvSnapshot } from "../lib/cluster/snapshot.ts";
import { Exit } from "../lib/exit_codes.ts";
import { segment } from "../lib/names.ts";
import { Executor } from "../lib/plan/apply.ts";
import { liveEffects } from "../lib/plan/live.ts";
import { triggerDeps } from "../lib/triggers/deps.ts";
import { fire, type FireResult } from "../lib/triggers/fire.ts";
import { limitSettings, TriggerLimiter } from "../lib/triggers/limit.ts";
import { LiveSource, SnapshotSource, type TriggerSource } from "../lib/triggers/source.ts";
import {
  type HealthCheck,
  InputError,
  parseHealthCheck,
  TRIGGER_STATES,
  type TriggerState,
} from "../lib/triggers/plan.ts";
import type { Command } from "../lib/command.ts";

const help = `Usage: powerconsul trigger <warning|critical> -s '<health-check JSON>' [options]
       powerconsul trigger reset [-S <consulService>]

Runs the action stored at <triggerPrefix>/<ServiceName>/<role>/<state> for one check of this
node (the watch handler does this in process for every local check it receives). The role is
standalone, primary or secondary; a secondary whose actives are not passing acts as primary,
except while the cluster document is locked.

An action is a command line (split like a shell splits words, run without a shell) or a script
starting with #! (fed to that interpreter on a pipe; no file is written). @SERVICE @NODE @ROLE
@STATE @CHECK @DC and the config's subVars are substituted; commands get each value as exactly
one argument, scripts (and commands that start a shell with -c) get it as code, so a payload
value with shell syntax is refused there — prefer the environment: POWERCONSUL_SERVICE, _NODE,
_ROLE, _STATE, _CHECK, _DC. An @NAME that is no variable is kept as is, with a warning.

Restart-storm protection, per service, role and state: one run per triggerCooldown seconds (an
early run waits for the cooldown, then runs if the check is still in the state), at most
triggerBurst runs per triggerWindow seconds ("trigger limit reached"; 'trigger reset' clears it).

Options:
  -s, --check JSON          the health check (as a Consul checks watch passes it)
  -S, --consulservice NAME  (reset) only this service's state
  --dry-run                 print the plan (role and why, key, argv or script), run nothing
  --kv-snapshot FILE        with --dry-run: read KV from 'consul kv export' JSON (FILE or - for
                            stdin) instead of the agent; needs --node (or nodeName)
  --dc NAME                 (snapshot) the node's datacenter (for @DC and datacenter documents)
  --actives passing|failing (snapshot) health of the active instances, for a standby

Exit: the action's exit code; 0 when there was nothing to do (no key, noopTriggers, deferred run
no longer needed); 1 invalid input, action not startable or trigger limit reached; 2 bad
command line; 3 unknown state (agent, KV or cluster document unreadable) or the action was
killed (past triggerTimeout, or by a signal).

Example: powerconsul trigger critical --dry-run -s '{"Node":"web1","ServiceName":"web",
         "CheckID":"web-check","Status":"critical","Output":"…"}'
`;

const OPTIONS = {
  check: { type: "string", short: "s" },
  consulservice: { type: "string", short: "S" },
  "kv-snapshot": { type: "string" },
  dc: { type: "string" },
  actives: { type: "string" },
} as const;

export interface TriggerArgs {
  mode: "fire";
  state: TriggerState;
  check: HealthCheck;
  snapshot?: string;
  dc?: string;
  actives?: "passing" | "failing";
}

export interface ResetArgs {
  mode: "reset";
  service?: string;
}

/** Validate the command line completely before anything is read or contacted (pure). */
export function parseTriggerArgs(p: Parsed): TriggerArgs | ResetArgs {
  const word = p.positionals[0];
  if (!word) throw new UsageError(`missing state: one of ${TRIGGER_STATES.join(", ")} (or reset)`);
  if (p.positionals.length > 1) throw new UsageError(`unexpected argument "${p.positionals[1]}"`);
  if (word === "reset") {
    for (const o of ["check", "kv-snapshot", "dc", "actives"]) {
      if (p.values[o] !== undefined) throw new UsageError(`--${o} does not apply to reset`);
    }
    const service = str(p, "consulservice");
    if (service === undefined) return { mode: "reset" };
    return { mode: "reset", service: segment("-S/--consulservice", service) };
  }
  if (!(TRIGGER_STATES as readonly string[]).includes(word)) {
    throw new UsageError(`unknown state "${word}": one of ${TRIGGER_STATES.join(", ")} (or reset)`);
  }
  if (p.values.consulservice !== undefined) {
    throw new UsageError("-S applies to reset; the service comes from the check's ServiceName");
  }
  const text = required(p, "check", "s");
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`-s is not valid JSON (${(e as Error).message})`);
  }
  let check: HealthCheck;
  try {
    check = parseHealthCheck(raw, "-s");
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (check.ServiceName === "") {
    throw new UsageError(
      `-s: check ${check.CheckID || "-"} has an empty ServiceName (a node ` +
        `check); triggers belong to services`,
    );
  }
  segment("-s: ServiceName", check.ServiceName);
  const a: TriggerArgs = { mode: "fire", state: word as TriggerState, check };
  const snapshot = str(p, "kv-snapshot");
  const dc = str(p, "dc");
  const actives = str(p, "actives");
  if (snapshot === undefined) {
    if (dc !== undefined || actives !== undefined) {
      throw new UsageError("--dc and --actives describe a --kv-snapshot; the agent knows them");
    }
    return a;
  }
  if (!bool(p, "dry-run")) {
    throw new UsageError("--kv-snapshot is for offline testing and needs --dry-run");
  }
  if (snapshot === "") throw new UsageError("--kv-snapshot needs a file (or - for stdin)");
  a.snapshot = snapshot;
  if (dc !== undefined && dc !== "") a.dc = dc;
  if (actives !== undefined) {
    if (actives !== "passing" && actives !== "failing") {
      throw new UsageError(`--actives must be passing or failing, not "${actives}"`);
    }
    a.actives = actives;
  }
  return a;
}

export const command: Command = {
  name: "trigger",
  help,
  options: OPTIONS,
  async run(p: Parsed, g: GlobalFlags, io: Io): Promise<number> {
    const a = parseTriggerArgs(p);
    if (a.mode === "reset") return await reset(a, io, g);
    const ctx = await makeContext(io, g, { configRequired: a.snapshot === undefined });
    let source: TriggerSource;
    if (a.snapshot !== undefined) {
      if (!ctx.config.nodeName) {
        throw new UsageError("--kv-snapshot needs --node (or nodeName in the config)");
      }
      const text = a.snapshot === "-" ? await io.readStdin() : await readSnapshot(a.snapshot);
      if (text === null) throw new UsageError("--kv-snapshot -: stdin is a terminal");
      const kv = parseKvSnapshot(text, a.snapshot === "-" ? "stdin" : a.snapshot);
      const stated = {
        node: ctx.config.nodeName,
        datacenter: a.dc ?? "",
        ...(a.actives === undefined ? {} : { actives: a.actives }),
      };
      source = new SnapshotSource(kv, ctx.config, stated);
    } else {
      source = new LiveSource(ctx.consul, ctx.config);
    }
    const r = await fire(a.check, a.state, triggerDeps(ctx, source, (l) => io.out(l + "\n")));
    report(io, r, g.output ?? "text");
    return r.code;
  },
};

async function readSnapshot(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Error && e.name === "NotCapable") {
      throw new InputError(
        `cannot read ${path}: outside the paths this binary may read; put the snapshot under ` +
          `/etc/powerconsul or pipe it in with --kv-snapshot -`,
      );
    }
    throw new InputError(`cannot read ${path}: ${(e as Error).message.split("\n")[0]}`);
  }
}

/** The action's own output, then one summary line (or one JSON object holding both). */
function report(io: Io, r: FireResult, format: "json" | "text") {
  if (r.outcome === "planned") return;
  if (format === "json") {
    const o: Record<string, unknown> = { outcome: r.outcome, code: r.code, message: r.message };
    if (r.plan) Object.assign(o, { role: r.plan.ctx.role, key: r.plan.key });
    if (r.stdout !== undefined) Object.assign(o, { stdout: r.stdout, stderr: r.stderr });
    io.out(JSON.stringify(o) + "\n");
    return;
  }
  if (r.stdout) io.out(r.stdout.endsWith("\n") ? r.stdout : r.stdout + "\n");
  if (r.stderr) io.err(r.stderr.endsWith("\n") ? r.stderr : r.stderr + "\n");
  io.out(`trigger: ${r.message}\n`);
}

async function reset(a: ResetArgs, io: Io, g: GlobalFlags): Promise<number> {
  const ctx = await makeContext(io, g);
  const limiter = new TriggerLimiter(ctx.config.logDir, limitSettings(ctx.config), {
    warn: (m) => io.err(`powerconsul: warning: ${m}\n`),
  });
  const what = a.service ? `service ${a.service}` : "every service";
  if (g.dryRun) {
    const { state } = await limiter.read();
    const keys = state.entries.filter((e) => !a.service || e.service === a.service)
      .map((e) => `${e.service}/${e.role}/${e.state}`);
    const ex = new Executor(liveEffects(ctx.consul, ctx.runner), {
      dryRun: true,
      print: (l) => io.out(`dry-run: ${l}\n`),
    });
    await ex.apply({
      kind: "message",
      text: `reset: the trigger state of ${what} in ${limiter.path} to clear: ${
        keys.length ? keys.join(", ") : "nothing recorded"
      }`,
    });
    return Exit.OK;
  }
  const cleared = await limiter.reset(a.service);
  ctx.logger("trigger/state.log", "trigger", a.service ?? "-").info(
    `reset by an operator: ${cleared.length ? cleared.join(", ") : "nothing recorded"}`,
  );
  io.out(`trigger state of ${what} cleared${cleared.length ? `: ${cleared.join(", ")}` : ""}\n`);
  return Exit.OK;
}
