/**
 * Configuration: defaults, then the JSON file (SPEC §4 search order), then flags.
 * Validation names the key; unknown keys are warnings, wrong types errors.
 */
import { dirname, join } from "./paths.ts";
import { ConfigError } from "./errors.ts";
import type { Env } from "./env.ts";

export interface Config {
  serviceFilter: string | null;
  clusterKey: string | null;
  subVars: Record<string, string>;
  noopTriggers: string[];
  logDir: string;
  nodeName: string | null;
  triggerPrefix: string;
  servicePrefix: string;
  checkProcs: string;
  crontabDir: string;
  serviceManager: "service" | "systemctl";
  /** Seconds. */
  httpTimeout: number;
  probeTimeout: number;
  triggerTimeout: number;
  switchTimeout: number;
  triggerCooldown: number;
  triggerBurst: number;
  triggerWindow: number;
}

export const DEFAULTS: Readonly<Config> = Object.freeze({
  serviceFilter: null,
  clusterKey: null,
  subVars: {},
  noopTriggers: [],
  logDir: "/var/log/powerconsul",
  nodeName: null,
  triggerPrefix: "triggers",
  servicePrefix: "service",
  checkProcs: "/usr/lib/nagios/plugins/check_procs",
  crontabDir: "/var/spool/cron/crontabs",
  serviceManager: "service",
  httpTimeout: 5,
  probeTimeout: 10,
  triggerTimeout: 300,
  switchTimeout: 60,
  triggerCooldown: 10,
  triggerBurst: 10,
  triggerWindow: 3600,
});

type Kind = "string" | "string?" | "regex?" | "map" | "list" | "seconds" | "count" | "manager";
const KINDS: Record<keyof Config, Kind> = {
  serviceFilter: "regex?",
  clusterKey: "string?",
  subVars: "map",
  noopTriggers: "list",
  logDir: "string",
  nodeName: "string?",
  triggerPrefix: "string",
  servicePrefix: "string",
  checkProcs: "string",
  crontabDir: "string",
  serviceManager: "manager",
  httpTimeout: "seconds",
  probeTimeout: "seconds",
  triggerTimeout: "seconds",
  switchTimeout: "seconds",
  triggerCooldown: "seconds",
  triggerBurst: "count",
  triggerWindow: "seconds",
};

export type Source = "default" | "file" | "flag";

export interface LoadedConfig {
  config: Config;
  /** The file the values came from, or null when defaults only. */
  path: string | null;
  sources: Record<keyof Config, Source>;
  warnings: string[];
}

/** Candidate paths in search order, each with why it is on the list. */
export function configCandidates(flagPath: string | undefined, env: Env): string[] {
  if (flagPath) return [flagPath];
  const out: string[] = [];
  const fromEnv = env("POWERCONSUL_CONFIG");
  if (fromEnv) out.push(fromEnv);
  const home = env("HOME");
  if (home) out.push(join(home, ".powerconsul.conf"));
  out.push("/etc/powerconsul/config.json");
  return out;
}

/** Validate a parsed JSON object into a Config (pure). Throws ConfigError naming the key. */
export function validateConfig(
  raw: unknown,
  where: string,
): { config: Config; present: Set<keyof Config>; warnings: string[] } {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(`${where}: the configuration must be a JSON object`);
  }
  const config: Config = structuredClone(DEFAULTS) as Config;
  const present = new Set<keyof Config>();
  const warnings: string[] = [];
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!(key in KINDS)) {
      warnings.push(`${where}: unknown key "${key}" ignored`);
      continue;
    }
    const k = key as keyof Config;
    (config as unknown as Record<string, unknown>)[k] = checkValue(k, KINDS[k], value, where);
    present.add(k);
  }
  return { config, present, warnings };
}

function checkValue(key: string, kind: Kind, v: unknown, where: string): unknown {
  const bad = (want: string) =>
    new ConfigError(`${where}: key "${key}" must be ${want}, got ${JSON.stringify(v)}`);
  switch (kind) {
    case "string":
      if (typeof v !== "string" || v === "") throw bad("a non-empty string");
      return v;
    case "string?":
      if (v === null) return null;
      if (typeof v !== "string" || v === "") throw bad("a non-empty string or null");
      return v.replace(/\/+$/, "");
    case "regex?":
      if (v === null) return null;
      if (typeof v !== "string") throw bad("a regular expression string or null");
      try {
        new RegExp(v);
      } catch {
        throw bad("a valid regular expression");
      }
      return v;
    case "map": {
      if (v === null || typeof v !== "object" || Array.isArray(v)) throw bad("an object");
      const out: Record<string, string> = {};
      for (const [name, value] of Object.entries(v as Record<string, unknown>)) {
        const bare = name.replace(/^@/, "");
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(bare)) {
          throw new ConfigError(`${where}: key "${key}" has an invalid variable name "${name}"`);
        }
        if (typeof value !== "string" && typeof value !== "number") {
          throw new ConfigError(`${where}: key "${key}.${name}" must be a string`);
        }
        out[bare] = String(value);
      }
      return out;
    }
    case "list":
      if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
        throw bad("an array of strings");
      }
      return v;
    case "seconds":
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
        throw bad("a non-negative number of seconds");
      }
      return v;
    case "count":
      if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw bad("a positive integer");
      return v;
    case "manager":
      if (v !== "service" && v !== "systemctl") throw bad(`"service" or "systemctl"`);
      return v;
  }
}

export interface LoadOptions {
  flagPath?: string;
  env: Env;
  /** When false, a missing file yields the defaults instead of an error. */
  required: boolean;
  /** Flag overrides (SPEC §3: --node beats the nodeName key). */
  nodeFlag?: string;
}

/** Find, read and validate the config file. */
export async function loadConfig(opts: LoadOptions): Promise<LoadedConfig> {
  const candidates = configCandidates(opts.flagPath, opts.env);
  let text: string | undefined;
  let path: string | null = null;
  for (const candidate of candidates) {
    try {
      text = await Deno.readTextFile(candidate);
      path = candidate;
      break;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      if (e instanceof Error && e.name === "NotCapable") continue;
      if (e instanceof Deno.errors.IsADirectory) {
        throw new ConfigError(`config ${candidate} is a directory`);
      }
      throw new ConfigError(`cannot read config ${candidate}: ${(e as Error).message}`);
    }
  }
  let base: ReturnType<typeof validateConfig>;
  if (text === undefined || path === null) {
    if (opts.required) {
      throw new ConfigError(
        `no configuration found (tried ${candidates.join(", ")}); ` +
          `create one with: powerconsul config bootstrap -C '<json>'`,
      );
    }
    base = { config: structuredClone(DEFAULTS) as Config, present: new Set(), warnings: [] };
  } else {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new ConfigError(`${path}: invalid JSON (${(e as Error).message})`);
    }
    base = validateConfig(raw, path);
  }
  const sources = {} as Record<keyof Config, Source>;
  for (const k of Object.keys(KINDS) as (keyof Config)[]) {
    sources[k] = base.present.has(k) ? "file" : "default";
  }
  if (opts.nodeFlag) {
    base.config.nodeName = opts.nodeFlag;
    sources.nodeName = "flag";
  }
  return { config: base.config, path, sources, warnings: base.warnings };
}

/** The path `config bootstrap` writes: --config, else ~/.powerconsul.conf. */
export function bootstrapPath(flagPath: string | undefined, env: Env): string {
  if (flagPath) return flagPath;
  const home = env("HOME") ?? "/root";
  return join(home, ".powerconsul.conf");
}

/**
 * Write the config atomically with mode 0600: a sibling `<path>.new` is written, synced and
 * renamed over the target, so a reader sees the old file or the new one, never half of one.
 */
export async function writeConfigAtomic(path: string, config: Record<string, unknown>) {
  const tmp = `${path}.new`;
  await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
  try {
    await file.write(new TextEncoder().encode(JSON.stringify(config, null, 2) + "\n"));
    await file.syncData();
  } finally {
    file.close();
  }
  await Deno.chmod(tmp, 0o600);
  await Deno.rename(tmp, path);
}
