/**
 * What a command needs from the outside world, assembled once: config, the command's deadline,
 * the Consul client, the program runner, log files. Commands receive it; nothing below reads
 * globals. The client and the runner both take what is left of the deadline for each request
 * and each program run.
 */
import { type Config, loadConfig, type LoadedConfig } from "./config.ts";
import { type Connection, httpClientFor, resolveConnection } from "./consul/address.ts";
import { ConsulClient } from "./consul/client.ts";
import type { GlobalFlags } from "./args.ts";
import type { Env } from "./env.ts";
import { Logger, parseLevel } from "./log.ts";
import { makeDenoRunner, type Runner, type RunResult } from "./sys/runner.ts";
import { Deadline } from "./deadline.ts";

export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: Env;
  /**
   * All of stdin, or null when stdin is a terminal. With a signal (e.g. `ctx.deadline.signal()`)
   * the read gives up when it fires, with an error saying so.
   */
  readStdin(opts?: { signal?: AbortSignal }): Promise<string | null>;
  stdoutIsTty: boolean;
}

export interface Ctx {
  io: Io;
  flags: GlobalFlags;
  loaded: LoadedConfig;
  config: Config;
  conn: Connection;
  consul: ConsulClient;
  runner: Runner;
  /**
   * The command's one deadline (config checkDeadline for a check, commandDeadline otherwise).
   * Long waits of a command's own (stdin, polling) should use `deadline.signal()` or
   * `deadline.cap(ms)`.
   */
  deadline: Deadline;
  /** A logger for `<logDir>/<file>`. */
  logger(file: string, component: string, service: string): Logger;
}

export interface ContextOptions {
  configRequired?: boolean;
  runner?: Runner;
  /** Which deadline applies: "check" (Consul kills a script check at its timeout) or "command". */
  deadline?: "check" | "command";
  /** A clock for the deadline (tests). */
  now?: () => number;
  onRequest?: (method: string, path: string) => void;
}

export async function makeContext(
  io: Io,
  flags: GlobalFlags,
  opts: ContextOptions = {},
): Promise<Ctx> {
  const loadOpts: Parameters<typeof loadConfig>[0] = {
    env: io.env,
    required: opts.configRequired ?? true,
  };
  if (flags.config) loadOpts.flagPath = flags.config;
  if (flags.node) loadOpts.nodeFlag = flags.node;
  const loaded = await loadConfig(loadOpts);
  for (const w of loaded.warnings) io.err(`powerconsul: warning: ${w}\n`);
  const connInput: Parameters<typeof resolveConnection>[0] = {
    env: io.env,
    readFile: (p) => Deno.readTextFileSync(p),
  };
  if (flags.httpAddr) connInput.flagAddr = flags.httpAddr;
  if (flags.token) connInput.flagToken = flags.token;
  const conn = resolveConnection(connInput);
  const seconds = opts.deadline === "check"
    ? loaded.config.checkDeadline
    : loaded.config.commandDeadline;
  const deadline = new Deadline(seconds * 1000, opts.now);
  const clientOpts: ConstructorParameters<typeof ConsulClient>[0] = {
    baseUrl: conn.baseUrl,
    timeoutMs: loaded.config.httpTimeout * 1000,
    deadline,
  };
  if (conn.token) clientOpts.token = conn.token;
  const httpClient = httpClientFor(conn);
  if (httpClient) clientOpts.httpClient = httpClient;
  if (opts.onRequest) clientOpts.onRequest = opts.onRequest;
  const level = parseLevel(io.env("POWERCONSUL_LOG_LEVEL"));
  // A log that cannot be written is reported on stderr once per run, however many log files
  // the command uses (a watch writes its own, each trigger's and the storm state's).
  let logFailureReported = false;
  const logFailure = (line: string) => {
    if (logFailureReported) return;
    logFailureReported = true;
    io.err(line);
  };
  return {
    io,
    flags,
    loaded,
    config: loaded.config,
    conn,
    consul: new ConsulClient(clientOpts),
    runner: boundedRunner(
      opts.runner ?? makeDenoRunner({ passToken: loaded.config.passToken }),
      deadline,
    ),
    deadline,
    logger(file, component, service) {
      const l = new Logger({
        logDir: loaded.config.logDir,
        file,
        component,
        service,
        level,
        stderr: logFailure,
      });
      l.addSecret(conn.token);
      return l;
    },
  };
}

/** A runner whose every run ends by the deadline; past it, nothing is started. */
export function boundedRunner(inner: Runner, deadline: Deadline): Runner {
  return {
    run(argv, runOpts): Promise<RunResult> {
      const timeoutMs = deadline.cap(runOpts.timeoutMs);
      if (timeoutMs <= 0) {
        return Promise.resolve({
          argv,
          code: null,
          signal: null,
          stdout: "",
          stderr: `not started: the command's deadline (${deadline.describe()}) has passed`,
          timedOut: true,
          ms: 0,
        });
      }
      return inner.run(argv, { ...runOpts, timeoutMs });
    },
  };
}

/**
 * Dry-run sandbox: give up the permission to start programs for the rest of the
 * process. Revoking one command is not enough while `run` is granted broadly, so `run` goes as
 * a whole.
 */
export function dropRunPermission(): void {
  Deno.permissions.revokeSync({ name: "run" });
}
