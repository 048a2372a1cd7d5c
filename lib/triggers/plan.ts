/**
 * Trigger planning, all pure: validate the health-check JSON a watch hands over, name the KV
 * key of the action, substitute `@VAR`s, and decide between an argv (never a shell) and a `#!`
 * script. Nothing here touches Consul, the file system or a process.
 */
import type { Role } from "../cluster/role.ts";
import { PowerconsulError } from "../errors.ts";
import { Exit } from "../exit_codes.ts";
import { kvPath } from "../names.ts";
import { splitWords, WordsError } from "../words.ts";
import {
  actionEnv,
  PAYLOAD_VARS,
  render,
  type Token,
  tokens,
  tokenWarnings,
  type TriggerContext,
  unsafePastes,
  variables,
} from "./vars.ts";

export const TRIGGER_STATES = ["warning", "critical"] as const;
export type TriggerState = typeof TRIGGER_STATES[number];

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
  role: Role,
  state: TriggerState,
): string {
  return kvPath(prefix, ["ServiceName", service], ["role", role], ["state", state]);
}

export { actionEnv, BUILTIN_VARS, substitute, type TriggerContext, variables } from "./vars.ts";

export type TriggerAction =
  /** Run as an argv: no shell ever sees it. */
  | { kind: "command"; argv: string[] }
  /** Fed to `[...interpreter]` without a file of its own (see run.ts). */
  | { kind: "script"; interpreter: string[]; text: string };

/** Programs that read an argument as code after `-c`. */
const SHELLS = new Set([
  "sh",
  "bash",
  "dash",
  "ash",
  "zsh",
  "ksh",
  "mksh",
  "pdksh",
  "yash",
  "posh",
  "csh",
  "tcsh",
  "fish",
  "busybox",
]);

function base(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}

/**
 * Whether a command line starts a shell on a `-c` string (directly, or through `env` with its
 * options and NAME=VALUE assignments): then its words are code, like a script's text (pure).
 */
export function startsShell(words: readonly string[]): boolean {
  let i = 0;
  if (base(words[0] ?? "") === "env") {
    i = 1;
    while (i < words.length) {
      const w = words[i]!;
      if (w === "-u" || w === "--unset" || w === "-C" || w === "--chdir") i += 2;
      else if (w.startsWith("-") || /^[A-Za-z_][A-Za-z0-9_]*=/.test(w)) i++;
      else break;
    }
  }
  const prog = words[i];
  if (prog === undefined || !SHELLS.has(base(prog))) return false;
  let j = i + 1;
  if (base(prog) === "busybox" && /sh$/.test(words[j] ?? "")) j++;
  for (; j < words.length; j++) {
    const w = words[j]!;
    if (!/^[-+]/.test(w)) return false;
    if (w === "--") return false;
    if (/^[-+][A-Za-z]*c[A-Za-z]*$/.test(w) || w === "--command") return true;
  }
  return false;
}

function refusePastes(
  ts: readonly Token[],
  vars: ReadonlyMap<string, string>,
  untrusted: ReadonlySet<string>,
  into: string,
): void {
  const bad = unsafePastes(ts, vars, untrusted)[0];
  if (bad) {
    throw new InputError(
      `refusing to paste @${bad.name} (${
        JSON.stringify(bad.value.slice(0, 60))
      }) into ${into}: it holds characters a shell would interpret; use $POWERCONSUL_${bad.name} ` +
        `instead`,
    );
  }
}

/** The action and what its text made worth a warning. */
export interface PlannedAction {
  action: TriggerAction;
  warnings: string[];
}

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
 * A script's text, and the words of a command that starts a shell on `-c`, reach a shell as
 * code: a payload value (`untrusted`) is pasted there only when it cannot be code; such
 * actions should use the POWERCONSUL_* environment, which is safe for any value.
 *
 * Throws InputError for a definition that cannot be run (unterminated quote, no interpreter) or
 * would paste a payload value as code.
 */
export function planActionWithWarnings(
  value: string,
  vars: ReadonlyMap<string, string>,
  untrusted: ReadonlySet<string> = new Set(),
): PlannedAction {
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
    const ts = tokens(rest, vars.keys());
    refusePastes(ts, vars, untrusted, "a script");
    const text = head + (vars.size === 0 ? rest : render(ts, vars));
    return { action: { kind: "script", interpreter, text }, warnings: tokenWarnings(ts) };
  }
  let words: string[];
  try {
    words = splitWords(body);
  } catch (e) {
    if (e instanceof WordsError) throw new InputError(`trigger command line: ${e.message}`);
    throw e;
  }
  if (words.length === 0) throw new InputError("trigger command line is empty");
  const wordTokens = words.map((w) => tokens(w, vars.keys()));
  if (startsShell(words)) {
    for (const ts of wordTokens) refusePastes(ts, vars, untrusted, "a shell's -c command line");
  }
  const argv = wordTokens.map((ts) => render(ts, vars));
  if (argv[0] === "") throw new InputError("trigger command line names no program");
  return { action: { kind: "command", argv }, warnings: wordTokens.flatMap(tokenWarnings) };
}

/** planActionWithWarnings without the warnings. */
export function planAction(
  value: string,
  vars: ReadonlyMap<string, string>,
  untrusted: ReadonlySet<string> = new Set(),
): TriggerAction {
  return planActionWithWarnings(value, vars, untrusted).action;
}

/** Everything a trigger decided, for running or for printing under --dry-run. */
export interface TriggerPlan {
  ctx: TriggerContext;
  /** Why the role is what it is (one sentence). */
  why: string;
  key: string;
  /** The KV value, or null when the key is missing or empty (nothing to do). */
  value: string | null;
  action: TriggerAction | null;
  env: Record<string, string>;
  /** subVars that override a built-in of the same name. */
  shadowed: string[];
  /** Misspelt or glued `@VAR`s: warned about, live and in a dry run. */
  warnings: string[];
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
  const untrusted = new Set<string>(PAYLOAD_VARS.filter((n) => !shadowed.includes(n)));
  const planned = value === null ? null : planActionWithWarnings(value, vars, untrusted);
  return {
    ctx: input.ctx,
    why: input.why,
    key: input.key,
    value,
    action: planned?.action ?? null,
    env: actionEnv(input.ctx),
    shadowed,
    warnings: [
      ...shadowed.map((s) => `subVars defines @${s}, which replaces the built-in @${s}`),
      ...planned?.warnings ?? [],
    ],
  };
}

/** One short line describing an action, for logs and messages. */
export function describeAction(a: TriggerAction): string {
  if (a.kind === "command") return `argv ${JSON.stringify(a.argv)}`;
  const lines = a.text.split("\n").length;
  return `script (${lines} lines) run by ${JSON.stringify(a.interpreter)}`;
}
