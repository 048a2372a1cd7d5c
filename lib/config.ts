/**
 * Configuration: defaults, then the JSON file, then flags. The file is the one named by
 * --config or $POWERCONSUL_CONFIG — used or the command fails, never another one instead — else
 * the first of ~/.powerconsul.conf and /etc/powerconsul/config.json that exists.
 * Validation names the key; unknown keys are warnings, wrong types and values out of bounds
 * errors. Only the file's own keys count (a key named after an Object member is unknown).
 * Over 350 lines because each key's type, default, bounds and validation stay in this one
 * table-driven file (one place per key), the high-availability timings and their cross-check
 * among them, so every command reads them validated from one place.
 */
import { dirname, join } from "./paths.ts";
import { ConfigError } from "./errors.ts";
import type { Env } from "./env.ts";
import { unsafePattern } from "./pattern.ts";
import { syncIo } from "./sys/small_io.ts";

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
  /** Seconds a check has in all (keep it under the script check's Timeout in Consul). */
  checkDeadline: number;
  /** Seconds any other command has in all. */
  commandDeadline: number;
  /** Let probes and actions see CONSUL_HTTP_TOKEN / CONSUL_HTTP_TOKEN_FILE. */
  passToken: boolean;
  // Operator controls (lib/hooks.ts, lib/metrics.ts).
  /** argv of the role-change hook (never from KV); empty: none. */
  roleHook: string[];
  /** The node_exporter textfile; null: <logDir>/metrics/powerconsul.prom. */
  metricsFile: string | null;
  /** Write the metrics file on every check run. */
  metrics: boolean;
  // -- lease and guard (lib/ha/) --
  /** With no server reachable by anyone: fence at the lease's end, or keep running (failsafe). */
  serverOutage: "fence" | "failsafe";
  // High availability (seconds; cross-checked by haTimingProblem below).
  /** The agent's interval for powerconsul's checks (set it to what the agent config says). */
  checkInterval: number;
  /** How long a renewed lease lets an active run without a server confirming its role. */
  leaseSeconds: number;
  /** How long a standby waits before replacing an active that may still be alive. */
  takeoverDelay: number;
  /** How long an active that reports its own failure must stay failed before a takeover. */
  failoverDamping: number;
  /** A locked document unchanged this long no longer blocks a takeover. */
  lockTimeout: number;
  /** How often the guard looks at the lease. */
  guardPoll: number;
}

/** The longest timer the runtime keeps (2^31-1 ms): longer ones would fire at once. */
export const MAX_SECONDS = 2_147_483;

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
  checkDeadline: 25,
  commandDeadline: 900,
  passToken: false,
  roleHook: [],
  metricsFile: null,
  metrics: true,
  serverOutage: "fence",
  checkInterval: 1,
  leaseSeconds: 10,
  takeoverDelay: 20,
  failoverDamping: 2,
  lockTimeout: 30,
  guardPoll: 0.5,
});

type Kind =
  | "string"
  | "kvprefix"
  | "kvprefix?"
  | "string?"
  | "regex?"
  | "map"
  | "list"
  | "timeout"
  | "seconds"
  | "count"
  | "bool"
  | "manager"
  | "outage";
const KINDS: Record<keyof Config, Kind> = {
  serviceFilter: "regex?",
  clusterKey: "kvprefix?",
  subVars: "map",
  noopTriggers: "list",
  logDir: "string",
  nodeName: "string?",
  triggerPrefix: "kvprefix",
  servicePrefix: "kvprefix",
  checkProcs: "string",
  crontabDir: "string",
  serviceManager: "manager",
  httpTimeout: "timeout",
  probeTimeout: "timeout",
  triggerTimeout: "timeout",
  switchTimeout: "timeout",
  triggerCooldown: "seconds",
  triggerBurst: "count",
  triggerWindow: "timeout",
  checkDeadline: "timeout",
  commandDeadline: "timeout",
  passToken: "bool",
  roleHook: "list",
  metricsFile: "string?",
  metrics: "bool",
  serverOutage: "outage",
  checkInterval: "timeout",
  leaseSeconds: "timeout",
  takeoverDelay: "timeout",
  failoverDamping: "seconds",
  lockTimeout: "timeout",
  guardPoll: "timeout",
};

/** Whether `key` is a configuration key (own keys only: "toString" is not one). */
export function isConfigKey(key: string): key is keyof Config {
  return Object.hasOwn(KINDS, key);
}

export type Source = "default" | "file" | "flag";

export interface LoadedConfig {
  config: Config;
  /** The file the values came from, or null when defaults only. */
  path: string | null;
  sources: Record<keyof Config, Source>;
  warnings: string[];
}

/**
 * Candidate paths in search order. A path named by --config or $POWERCONSUL_CONFIG is the only
 * candidate: it is used or the command fails.
 */
export function configCandidates(flagPath: string | undefined, env: Env): string[] {
  const named = namedConfig(flagPath, env);
  if (named) return [named.path];
  const out: string[] = [];
  const home = env("HOME");
  if (home) out.push(join(home, ".powerconsul.conf"));
  out.push("/etc/powerconsul/config.json");
  return out;
}

/** The config the operator named, and how. */
export function namedConfig(
  flagPath: string | undefined,
  env: Env,
): { path: string; by: string } | null {
  if (flagPath) return { path: flagPath, by: "--config" };
  const fromEnv = env("POWERCONSUL_CONFIG");
  if (fromEnv) return { path: fromEnv, by: "$POWERCONSUL_CONFIG" };
  return null;
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
    if (!isConfigKey(key)) {
      warnings.push(`${where}: unknown key ${JSON.stringify(key)} ignored`);
      continue;
    }
    (config as unknown as Record<string, unknown>)[key] = checkValue(key, KINDS[key], value, where);
    present.add(key);
  }
  for (const k of ["triggerTimeout", "switchTimeout"] as const) {
    if (config.commandDeadline < config[k]) {
      throw new ConfigError(
        `${where}: key "commandDeadline" (${config.commandDeadline}s) must be at least ` +
          `"${k}" (${config[k]}s): a command ends at its deadline`,
      );
    }
  }
  if (config.guardPoll * 2 > config.leaseSeconds) {
    throw new ConfigError(
      `${where}: key "guardPoll" (${config.guardPoll}s) must be at most half of ` +
        `"leaseSeconds" (${config.leaseSeconds}s): the guard must see a lease run out in time`,
    );
  }
  const ha = haTimingProblem(config);
  if (ha) throw new ConfigError(`${where}: ${ha}`);
  return { config, present, warnings };
}

/**
 * Seconds between the moment an active's lease runs out and the moment the guard has stopped
 * its services (guard poll, service manager stop): part of every takeover's wait.
 */
export const FENCE_MARGIN = 5;

/**
 * The high-availability timings, cross-checked (pure; null when they fit). An active renews its
 * lease once per check run and a run may spend httpTimeout on one request, so a lease shorter
 * than two intervals plus that would lapse between healthy runs. A standby that waits for an
 * active that may still be alive waits longer than any lease it could still hold, one interval
 * for its own observation, and the guard's time to stop the services.
 */
export function haTimingProblem(c: Config): string | null {
  const lease = 2 * c.checkInterval + c.httpTimeout;
  if (c.leaseSeconds < lease) {
    return `key "leaseSeconds" (${c.leaseSeconds}s) must be at least 2 × "checkInterval" + ` +
      `"httpTimeout" (${lease}s): a lease must outlive two check runs and one slow request`;
  }
  const delay = c.leaseSeconds + c.checkInterval + FENCE_MARGIN;
  if (c.takeoverDelay < delay) {
    return `key "takeoverDelay" (${c.takeoverDelay}s) must be at least "leaseSeconds" + ` +
      `"checkInterval" + ${FENCE_MARGIN}s (${delay}s): a standby must wait out the lease ` +
      "of an active it cannot see";
  }
  if (c.guardPoll >= FENCE_MARGIN) {
    return `key "guardPoll" (${c.guardPoll}s) must be below ${FENCE_MARGIN}s: the guard ` +
      "must notice an expired lease inside the fencing margin";
  }
  return null;
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
      return v;
    case "kvprefix?":
    case "kvprefix": {
      if (v === null && kind === "kvprefix?") return null;
      if (typeof v !== "string") throw bad(kind === "kvprefix" ? "a KV path" : "a KV path or null");
      const path = v.replace(/\/+$/, "");
      const why = kvPathProblem(path);
      if (why) throw bad(`a KV path (${why})`);
      return path;
    }
    case "regex?": {
      if (v === null) return null;
      if (typeof v !== "string") throw bad("a regular expression string or null");
      try {
        new RegExp(v);
      } catch {
        throw bad("a valid regular expression");
      }
      const why = unsafePattern(v);
      if (why) throw bad(`a safe regular expression (${why})`);
      return v;
    }
    case "map": {
      if (v === null || typeof v !== "object" || Array.isArray(v)) throw bad("an object");
      const out: [string, string][] = [];
      for (const [name, value] of Object.entries(v as Record<string, unknown>)) {
        const bare = name.replace(/^@/, "");
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(bare)) {
          throw new ConfigError(`${where}: key "${key}" has an invalid variable name "${name}"`);
        }
        if (typeof value !== "string" && typeof value !== "number") {
          throw new ConfigError(`${where}: key "${key}.${name}" must be a string`);
        }
        out.push([bare, String(value)]);
      }
      return Object.fromEntries(out);
    }
    case "list":
      if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
        throw bad("an array of strings");
      }
      return v;
    case "timeout":
      if (typeof v !== "number" || !Number.isFinite(v) || v <= 0 || v > MAX_SECONDS) {
        throw bad(`a number of seconds above 0 and at most ${MAX_SECONDS}`);
      }
      if (v < 0.001) throw bad("at least 0.001 seconds");
      return v;
    case "seconds":
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > MAX_SECONDS) {
        throw bad(`a number of seconds from 0 to ${MAX_SECONDS}`);
      }
      return v;
    case "bool":
      if (typeof v !== "boolean") throw bad("true or false");
      return v;
    case "count":
      if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw bad("a positive integer");
      return v;
    case "manager":
      if (v !== "service" && v !== "systemctl") throw bad(`"service" or "systemctl"`);
      return v;
    case "outage":
      if (v !== "fence" && v !== "failsafe") throw bad(`"fence" or "failsafe"`);
      return v;
  }
}

/** Why `path` cannot be a KV prefix, or null (segments non-empty, no "." or "..", printable). */
export function kvPathProblem(path: string): string | null {
  if (path === "") return "empty";
  for (const seg of path.split("/")) {
    if (seg === "") return "an empty segment";
    if (seg === "." || seg === "..") return `a "${seg}" segment`;
    // deno-lint-ignore no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(seg)) return "a control character";
  }
  return null;
}

export interface LoadOptions {
  flagPath?: string;
  env: Env;
  /** When false, a missing file yields the defaults instead of an error. */
  required: boolean;
  /** Flag overrides (--node beats the nodeName key). */
  nodeFlag?: string;
}

/** Find, read and validate the config file. */
export function loadConfig(opts: LoadOptions): Promise<LoadedConfig> {
  return syncIo(() => loadConfigNow(opts));
}

function loadConfigNow(opts: LoadOptions): LoadedConfig {
  const candidates = configCandidates(opts.flagPath, opts.env);
  const named = namedConfig(opts.flagPath, opts.env);
  let text: string | undefined;
  let path: string | null = null;
  for (const candidate of candidates) {
    try {
      // a small local file: read on the spot (lib/sys/small_io.ts says why)
      text = Deno.readTextFileSync(candidate);
      path = candidate;
      break;
    } catch (e) {
      const why = readProblem(e);
      if (named) {
        const hint = e instanceof Deno.errors.NotFound
          ? "; create it with: powerconsul config bootstrap -C '<json>'"
          : "";
        throw new ConfigError(`config ${candidate} (named by ${named.by}) ${why}${hint}`);
      }
      if (e instanceof Deno.errors.NotFound) continue;
      if (e instanceof Error && e.name === "NotCapable") continue;
      throw new ConfigError(`config ${candidate} ${why}`);
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

/** Why a file could not be read, as the end of a sentence. */
export function readProblem(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "does not exist";
  if (e instanceof Deno.errors.IsADirectory) return "is a directory";
  if (e instanceof Deno.errors.PermissionDenied) return "is not readable (permission denied)";
  if (e instanceof Error && e.name === "NotCapable") {
    return "is outside the paths this binary may read (see the README's security model)";
  }
  return `cannot be read: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`;
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
