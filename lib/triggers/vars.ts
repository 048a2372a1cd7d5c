/**
 * `@VAR` handling for trigger actions, all pure. One tokenizer (`tokens`) reads a text into
 * literal pieces and variable references; substitution, the paste guard for payload values and
 * the warnings about names that are not variables all walk the same tokens, so they can never
 * disagree about where a variable starts and ends.
 */
import type { Role } from "../cluster/role.ts";

/** What a trigger knows about itself: the built-in variables and the env of the action. */
export interface TriggerContext {
  service: string;
  node: string;
  role: Role;
  state: "warning" | "critical";
  check: string;
  dc: string;
}

export const BUILTIN_VARS = ["SERVICE", "NODE", "ROLE", "STATE", "CHECK", "DC"] as const;

/** The built-ins whose values come from the watch payload or the agent, not the operator. */
export const PAYLOAD_VARS = ["SERVICE", "NODE", "CHECK", "DC"] as const;

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

export type Token =
  | { kind: "text"; text: string }
  /** `@name`; `rest` is the word characters glued to it (`@CHECK_ID` = CHECK + "_ID"). */
  | { kind: "var"; name: string; rest: string }
  /** `@NAME` that is no variable: kept literally (and worth a warning). */
  | { kind: "unknown"; name: string };

const WORD = /[A-Za-z0-9_]/;
const UPPER_NAME = /^[A-Z][A-Z0-9_]*/;

/**
 * Split `text` into tokens. At each `@` the longest variable name that follows wins
 * (`@SERVICE_PORT` before `@SERVICE`); what follows a name is literal text, never the start of
 * another name unless it is an `@`. An `@` followed by an upper-case word that names no
 * variable is an "unknown" token; any other `@` is text (`user@host`).
 */
export function tokens(text: string, names: Iterable<string>): Token[] {
  const sorted = [...names].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
  const out: Token[] = [];
  let lit = "";
  let i = 0;
  while (i < text.length) {
    const at = text.indexOf("@", i);
    if (at === -1) {
      lit += text.slice(i);
      break;
    }
    lit += text.slice(i, at);
    const name = sorted.find((n) => n !== "" && text.startsWith(n, at + 1));
    if (name !== undefined) {
      if (lit) out.push({ kind: "text", text: lit });
      lit = "";
      let end = at + 1 + name.length;
      const restStart = end;
      while (end < text.length && WORD.test(text[end]!)) end++;
      out.push({ kind: "var", name, rest: text.slice(restStart, end) });
      if (end > restStart) out.push({ kind: "text", text: text.slice(restStart, end) });
      i = end;
      continue;
    }
    const m = UPPER_NAME.exec(text.slice(at + 1));
    if (m) {
      if (lit) out.push({ kind: "text", text: lit });
      lit = "";
      out.push({ kind: "unknown", name: m[0] });
      i = at + 1 + m[0].length;
      continue;
    }
    lit += "@";
    i = at + 1;
  }
  if (lit) out.push({ kind: "text", text: lit });
  return out;
}

/** Text of the tokens with every variable replaced (a value is never scanned again). */
export function render(ts: readonly Token[], vars: ReadonlyMap<string, string>): string {
  return ts.map((t) =>
    t.kind === "text" ? t.text : t.kind === "var" ? vars.get(t.name) ?? "" : `@${t.name}`
  ).join("");
}

/** Replace `@NAME` tokens in one pass, longest name first. */
export function substitute(text: string, vars: ReadonlyMap<string, string>): string {
  if (vars.size === 0 || !text.includes("@")) return text;
  return render(tokens(text, vars.keys()), vars);
}

/**
 * Warnings about the tokens of one action: a name that is no variable (kept literally — most
 * likely a misspelling), and a variable with word characters glued to it.
 */
export function tokenWarnings(ts: readonly Token[]): string[] {
  const out: string[] = [];
  for (const t of ts) {
    if (t.kind === "unknown") {
      out.push(`@${t.name} is not a trigger variable: it is passed through literally`);
    } else if (t.kind === "var" && t.rest !== "") {
      out.push(`@${t.name}${t.rest} is read as @${t.name} followed by "${t.rest}"`);
    }
  }
  return out;
}

/**
 * Values that may be pasted into code (a script's text, a shell's -c argument): Consul names
 * (services, nodes, check IDs, datacenters) in practice never need more, and nothing here
 * means anything to a shell.
 */
const CODE_SAFE = /^[A-Za-z0-9._:@\/+=,-]*$/;

/**
 * The payload variables among `ts` whose values could be code once pasted (pure). The tokens
 * are the ones substitution uses, so a refused value can never reach the text by another
 * reading of the same characters.
 */
export function unsafePastes(
  ts: readonly Token[],
  vars: ReadonlyMap<string, string>,
  untrusted: ReadonlySet<string>,
): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  for (const t of ts) {
    if (t.kind !== "var" || !untrusted.has(t.name)) continue;
    const value = vars.get(t.name) ?? "";
    if (!CODE_SAFE.test(value) && !out.some((o) => o.name === t.name)) {
      out.push({ name: t.name, value });
    }
  }
  return out;
}
