/**
 * Trigger planning (SPEC §7), all pure: validate the health-check JSON a watch hands over, name
 * the KV key of the action, substitute `@VAR`s, and decide between an argv (never a shell) and a
 * `#!` script. Nothing here touches Consul, the file system or a process.
 */
import { PowerconsulError } from "../errors.ts";
import { Exit } from "../exit_codes.ts";
import { splitWords, WordsError } from "../words.ts";

export const TRIGGER_STATES = ["warning", "critical"] as const;
export type TriggerState = typeof TRIGGER_STATES[number];
export type TriggerRole = "standalone" | "primary" | "secondary";

/** Invalid input (stdin, -s JSON, a trigger definition): one clear line, exit 1. */
export class InputError extends PowerconsulError {
  constructor(message: string) {
    super(message, Exit.FAILED);
  }
}

/** A Consul HealthCheck as a checks watch sends it (the fields triggers use). */
export interface HealthCheck {
  Node: string;
  /** Empty for node-level checks (serfHealth, maintenance). */
  ServiceName: string;
  CheckID: string;
  Status: string;
  Output: string;
  ServiceID: string;
  Name: string;
}

/**
 * Validate one HealthCheck. `Node` must be a non-empty string and `ServiceName` a string (empty
 * for node-level checks); the other fields read are strings when present.
 * Throws InputError naming `where` and the missing field.
 */
export function parseHealthCheck(v: unknown, where: string): HealthCheck {
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new InputError(`${where} is not a health-check object (got ${kindOf(v)})`);
  }
  const o = v as Record<string, unknown>;
  const node = o.Node;
  if (typeof node !== "string" || node === "") {
    throw new InputError(`${where} has no Node (a Consul health check names its node)`);
  }
  if (typeof o.ServiceName !== "string") {
    throw new InputError(
      `${where} (node ${node}) has no ServiceName (a Consul health check always carries one, ` +
        `empty for node checks)`,
    );
  }
  const text = (name: string): string => {
    const x = o[name];
    if (x === undefined || x === null) return "";
    if (typeof x !== "string") {
      throw new InputError(`${where} (node ${node}): ${name} must be a string, got ${kindOf(x)}`);
    }
    return x;
  };
  return {
    Node: node,
    ServiceName: o.ServiceName,
    CheckID: text("CheckID"),
    Status: text("Status"),
    Output: text("Output"),
    ServiceID: text("ServiceID"),
    Name: text("Name"),
  };
}

function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/** `<triggerPrefix>/<ServiceName>/<role>/<state>` (the old tool's layout). */
export function triggerKey(
  prefix: string,
  service: string,
  role: TriggerRole,
  state: TriggerState,
): string {
  return `${prefix.replace(/\/+$/, "")}/${service}/${role}/${state}`;
}

/** What a trigger knows about itself: the built-in variables and the env of the action. */
export interface TriggerContext {
  service: string;
  node: string;
  role: TriggerRole;
  state: TriggerState;
  check: string;
  dc: string;
}

export const BUILTIN_VARS = ["SERVICE", "NODE", "ROLE", "STATE", "CHECK", "DC"] as const;

/**
 * The substitution table: built-ins, then `subVars` (stored without the `@`). A subVar with a
 * built-in's name wins — configs of the old tool define e.g. `@ROLE` themselves, and their
 * triggers keep meaning what they meant; the real value stays in `$POWERCONSUL_ROLE`.
 */
export function variables(
  subVars: Record<string, string>,
  ctx: TriggerContext,
): { vars: Map<string, string>; shadowed: string[] } {
  const vars = new Map<string, string>([
    ["SERVICE", ctx.service],
    ["NODE", ctx.node],
    ["ROLE", ctx.role],
    ["STATE", ctx.state],
    ["CHECK", ctx.check],
    ["DC", ctx.dc],
  ]);
  const shadowed: string[] = [];
  for (const [name, value] of Object.entries(subVars)) {
    const bare = name.replace(/^@/, "");
    if ((BUILTIN_VARS as readonly string[]).includes(bare)) shadowed.push(bare);
    vars.set(bare, value);
  }
  return { vars, shadowed };
}

/** The environment every action gets (scripts should prefer it to textual `@VAR`s). */
export function actionEnv(ctx: TriggerContext): Record<string, string> {
  return {
    POWERCONSUL_SERVICE: ctx.service,
    POWERCONSUL_NODE: ctx.node,
    POWERCONSUL_ROLE: ctx.role,
    POWERCONSUL_STATE: ctx.state,
    POWERCONSUL_CHECK: ctx.check,
    POWERCONSUL_DC: ctx.dc,
  };
}

/**
 * Replace `@NAME` tokens in one pass, longest name first (`@SERVICE_PORT` before `@SERVICE`). A
 * substituted value is never scanned again, so a value containing `@NODE` stays as it is.
 */
export function substitute(text: string, vars: ReadonlyMap<string, string>): string {
  if (vars.size === 0 || !text.includes("@")) return text;
  const names = [...vars.keys()].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
  const re = new RegExp(`@(${names.map(escapeRe).join("|")})`, "g");
  return text.replace(re, (_, name: string) => vars.get(name) ?? "");
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export type Action =
  /** Run as an argv: no shell ever sees it. */
  | { kind: "command"; argv: string[] }
  /** Written to a private file and run as `[...interpreter, file]`. */
  | { kind: "script"; interpreter: string[]; text: string };

/**
 * The action a KV value describes (pure; the choice consul-template's CommandPrep makes).
 *
 * - Starts with `#!`: a script. The first line names the interpreter like the kernel reads it —
 *   an absolute path and at most one argument (the rest of the line), so `#!/usr/bin/env python3`
 *   and `#!/bin/bash -e` work. `@VAR`s are replaced in the text after that line as plain text;
 *   the interpreter line itself is never substituted.
 * - Anything else: one command line, split into words like a shell would (quotes and
 *   backslashes honoured, nothing expanded), then `@VAR`s replaced inside each word — so a value
 *   such as `a b` or `; rm -rf /` stays exactly one argument.
 *
 * Throws InputError for a definition that cannot be run (unterminated quote, no interpreter).
 */
/**
 * Values that may be pasted into a script's text: Consul names (services, nodes, check IDs,
 * datacenters) in practice never need more, and nothing here means anything to a shell.
 */
const SCRIPT_SAFE = /^[A-Za-z0-9._:@\/+=,-]*$/;

export function planAction(
  value: string,
  vars: ReadonlyMap<string, string>,
  /** Names whose values come from outside (the watch payload): checked before a script uses them. */
  untrusted: ReadonlySet<string> = new Set(),
): Action {
  const body = value.replace(/^\uFEFF/, "").replace(/^\s+/, "");
  if (body.startsWith("#!")) {
    const nl = body.indexOf("\n");
    const first = (nl === -1 ? body : body.slice(0, nl)).slice(2).trim();
    const rest = nl === -1 ? "" : body.slice(nl + 1);
    const m = /^(\S+)(?:[ \t]+(.*))?$/.exec(first);
    if (!m) throw new InputError("script trigger has no interpreter after #!");
    const interp = m[1]!;
    if (!interp.startsWith("/")) {
      throw new InputError(
        `script trigger interpreter "${interp}" must be an absolute path (e.g. #!/bin/bash or ` +
          `#!/usr/bin/env python3)`,
      );
    }
    const arg = m[2]?.trim();
    const interpreter = arg ? [interp, arg] : [interp];
    const head = nl === -1 ? body : body.slice(0, nl + 1);
    // A script's text reaches its interpreter (often a shell) as code, so a value from the
    // payload is pasted in only when it cannot be code (SPEC §10.4); scripts should use the
    // POWERCONSUL_* environment instead, which is safe for any value.
    for (const name of untrusted) {
      const v = vars.get(name) ?? "";
      if (new RegExp(`@${name}(?![A-Za-z0-9_])`).test(rest) && !SCRIPT_SAFE.test(v)) {
        throw new InputError(
          `refusing to paste @${name} (${JSON.stringify(v.slice(0, 60))}) into a script: it ` +
            `holds characters a shell would interpret; use $POWERCONSUL_${name} instead`,
        );
      }
    }
    return { kind: "script", interpreter, text: head + substitute(rest, vars) };
  }
  let words: string[];
  try {
    words = splitWords(body);
  } catch (e) {
    if (e instanceof WordsError) throw new InputError(`trigger command line: ${e.message}`);
    throw e;
  }
  if (words.length === 0) throw new InputError("trigger command line is empty");
  const argv = words.map((w) => substitute(w, vars));
  if (argv[0] === "") throw new InputError("trigger command line names no program");
  return { kind: "command", argv };
}

/** Everything a trigger decided, for running or for printing under --dry-run. */
export interface TriggerPlan {
  ctx: TriggerContext;
  /** Why the role is what it is (one sentence). */
  why: string;
  key: string;
  /** The KV value, or null when the key is missing or empty (nothing to do). */
  value: string | null;
  action: Action | null;
  env: Record<string, string>;
  /** subVars that override a built-in of the same name. */
  shadowed: string[];
}

export interface PlanInput {
  ctx: TriggerContext;
  why: string;
  key: string;
  value: string | null;
  subVars: Record<string, string>;
}

/** Build the plan (pure). Throws InputError when the KV value cannot be run. */
export function buildPlan(input: PlanInput): TriggerPlan {
  const { vars, shadowed } = variables(input.subVars, input.ctx);
  const value = input.value !== null && input.value.trim() !== "" ? input.value : null;
  return {
    ctx: input.ctx,
    why: input.why,
    key: input.key,
    value,
    action: value === null ? null : planAction(
      value,
      vars,
      new Set(["SERVICE", "NODE", "CHECK", "DC"].filter((n) => !shadowed.includes(n))),
    ),
    env: actionEnv(input.ctx),
    shadowed,
  };
}

/** One short line describing an action, for logs and messages. */
export function describeAction(a: Action): string {
  if (a.kind === "command") return `argv ${JSON.stringify(a.argv)}`;
  const lines = a.text.split("\n").length;
  return `script (${lines} lines) run by ${JSON.stringify(a.interpreter)}`;
}

export interface RenderOptions {
  /** Storm-protection verdict, one sentence. */
  storm: string;
  logFile: string;
  stateFile: string;
  scriptDir: string;
  timeoutS: number;
}

/** The --dry-run plan as text lines (without the `dry-run: ` prefix). */
export function renderPlan(p: TriggerPlan, o: RenderOptions): string[] {
  const c = p.ctx;
  const lines = [
    `trigger ${c.state} for service ${c.service}, check ${c.check || "-"}, on node ${c.node} ` +
    `(datacenter ${c.dc || "-"})`,
    `role: ${c.role} — ${p.why}`,
    `key: ${p.key} — ${p.value === null ? "missing or empty: nothing would run" : "found"}`,
  ];
  if (p.action?.kind === "command") {
    lines.push(`action: command, run as argv (no shell): ${JSON.stringify(p.action.argv)}`);
  } else if (p.action?.kind === "script") {
    lines.push(
      `action: script, run as ${JSON.stringify([...p.action.interpreter, "<file>"])} with ` +
        `<file> a private copy under ${o.scriptDir}/ (mode 0700, removed after):`,
    );
    for (const l of p.action.text.replace(/\n$/, "").split("\n")) lines.push(`  | ${l}`);
  }
  for (const s of p.shadowed) {
    lines.push(`note: subVars defines @${s}, which replaces the built-in @${s}`);
  }
  if (p.action) {
    lines.push(
      `env: ${Object.entries(p.env).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ")}`,
    );
    lines.push(`storm protection: ${o.storm}`);
    lines.push(
      `would: run it (timeout ${o.timeoutS}s), record the run in ${o.stateFile}, log its exit ` +
        `code and output to ${o.logFile}`,
    );
  }
  return lines;
}

/** The --dry-run plan as one JSON object. */
export function planJson(p: TriggerPlan, o: RenderOptions): Record<string, unknown> {
  return {
    dryRun: true,
    ...p.ctx,
    why: p.why,
    key: p.key,
    found: p.value !== null,
    action: p.action,
    env: p.action ? p.env : undefined,
    shadowed: p.shadowed,
    storm: p.action ? o.storm : undefined,
    logFile: o.logFile,
  };
}
