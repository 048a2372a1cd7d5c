/**
 * The command-line parser. node:util parseArgs refuses an option value that starts with a dash
 * ("ambiguous"), but the old tool's command line passes exactly that:
 * `check process -n '-c 1:1 -C sshd'`. So a string option here always takes the next word.
 */
import { UsageError } from "./errors.ts";

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  /** May be given several times (values collected in order). */
  multiple?: boolean;
}

export type OptionSpecs = Record<string, OptionSpec>;

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** Flags every command accepts, before or after the command words. */
export const GLOBAL_OPTIONS: OptionSpecs = {
  config: { type: "string" },
  "http-addr": { type: "string" },
  token: { type: "string" },
  node: { type: "string" },
  "dry-run": { type: "boolean" },
  output: { type: "string" },
  help: { type: "boolean", short: "h" },
};

export interface GlobalFlags {
  config?: string;
  httpAddr?: string;
  token?: string;
  node?: string;
  dryRun: boolean;
  /** Only when given: each command has its own default format. */
  output?: "json" | "text";
  help: boolean;
}

/** Parse argv against `specs` (plus the global options). Throws UsageError on any bad word. */
export function parseArgv(argv: readonly string[], specs: OptionSpecs): Parsed {
  const all: OptionSpecs = { ...GLOBAL_OPTIONS, ...specs };
  const byShort = new Map<string, string>();
  for (const [name, spec] of Object.entries(all)) {
    if (spec.short) byShort.set(spec.short, name);
  }
  const values: Parsed["values"] = {};
  const positionals: string[] = [];
  let i = 0;
  const set = (name: string, spec: OptionSpec, value: string | boolean) => {
    if (spec.multiple && typeof value === "string") {
      const prev = values[name];
      values[name] = Array.isArray(prev) ? [...prev, value] : [value];
    } else {
      values[name] = value;
    }
  };
  while (i < argv.length) {
    const word = argv[i++]!;
    if (word === "--") {
      positionals.push(...argv.slice(i));
      break;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (word.startsWith("--") && word.length > 2) {
      const eq = word.indexOf("=");
      name = eq === -1 ? word.slice(2) : word.slice(2, eq);
      inline = eq === -1 ? undefined : word.slice(eq + 1);
      if (!(name in all)) throw new UsageError(`unknown option --${name}`);
    } else if (word.startsWith("-") && word.length > 1 && !/^-\d/.test(word)) {
      const letter = word.slice(1, 2);
      name = byShort.get(letter);
      if (name === undefined) throw new UsageError(`unknown option ${word}`);
      if (word.length > 2) inline = word.slice(2).replace(/^=/, "");
    } else {
      positionals.push(word);
      continue;
    }
    const spec = all[name]!;
    const shown = spec.short && !word.startsWith("--") ? `-${spec.short}` : `--${name}`;
    if (spec.type === "boolean") {
      if (inline !== undefined) {
        if (inline === "true") set(name, spec, true);
        else if (inline === "false") set(name, spec, false);
        else throw new UsageError(`option ${shown} takes no value`);
      } else set(name, spec, true);
      continue;
    }
    if (inline !== undefined) {
      set(name, spec, inline);
    } else if (i < argv.length) {
      set(name, spec, argv[i++]!);
    } else {
      throw new UsageError(`option ${shown} needs a value`);
    }
  }
  return { values, positionals };
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  if (Array.isArray(v)) return v[v.length - 1];
  return typeof v === "string" ? v : undefined;
}

export function bool(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}

export function globalFlags(p: Parsed): GlobalFlags {
  const output = str(p, "output");
  if (output !== undefined && output !== "json" && output !== "text") {
    throw new UsageError(`--output must be json or text, not "${output}"`);
  }
  const g: GlobalFlags = { dryRun: bool(p, "dry-run"), help: bool(p, "help") };
  if (output !== undefined) g.output = output;
  const config = str(p, "config");
  if (config !== undefined) g.config = config;
  const httpAddr = str(p, "http-addr");
  if (httpAddr !== undefined) g.httpAddr = httpAddr;
  const token = str(p, "token");
  if (token !== undefined) g.token = token;
  const node = str(p, "node");
  if (node !== undefined) g.node = node;
  return g;
}

/** A required string option, or a UsageError naming it. */
export function required(p: Parsed, name: string, short?: string): string {
  const v = str(p, name);
  if (v === undefined || v === "") {
    throw new UsageError(`missing required option ${short ? `-${short}/` : ""}--${name}`);
  }
  return v;
}
