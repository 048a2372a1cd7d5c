/** The service wrapper's command line, validated completely before anything talks to Consul. */
import { UsageError } from "../errors.ts";
import { segment } from "../names.ts";
import { LOCK_DIR } from "../sys/lockfile.ts";

export const ACTIONS = [
  "start",
  "stop",
  "restart",
  "status",
  "start-primary",
  "promote",
  "demote",
] as const;
export type Action = typeof ACTIONS[number];

export interface ServiceArgs {
  /** The wrapper's name (`/etc/init.d/<name>`); names the log file and the default lock file. */
  name: string;
  action: Action;
  consulService: string;
  /** Local services, in start order (stop runs them in reverse). */
  services: string[];
  /** Lock (noop) file the checks are given with -F; taken during restart and switches. */
  lockFile: string;
  /** Whether -F was given (the default path is used otherwise). */
  lockFileGiven: boolean;
  /** start-primary --abort */
  abort: boolean;
}

const NAME_RE = /^[A-Za-z0-9@._:+-]+$/;

/** Where the lock file lives when -F is not given (powerconsul's own directory, 0700). */
export function defaultLockFile(name: string): string {
  return `${LOCK_DIR}/${name}.lock`;
}

/** Validate the command line completely before anything talks to Consul. */
export function parseServiceArgs(
  positionals: string[],
  opts: { consulService?: string; services?: string; lockFile?: string; abort: boolean },
): ServiceArgs {
  const [name, action, extra] = positionals;
  if (!name) throw new UsageError(`missing service name: service <name> <${ACTIONS.join("|")}>`);
  segment("the service name", name);
  if (!NAME_RE.test(name)) throw new UsageError(`invalid service name "${name}"`);
  if (!action) throw new UsageError(`missing action: one of ${ACTIONS.join(", ")}`);
  if (!(ACTIONS as readonly string[]).includes(action)) {
    throw new UsageError(`unknown action "${action}": one of ${ACTIONS.join(", ")}`);
  }
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
  if (!opts.consulService) throw new UsageError("missing required option -S/--consulservice");
  segment("-S/--consulservice", opts.consulService);
  if (!NAME_RE.test(opts.consulService)) {
    throw new UsageError(`invalid Consul service name "${opts.consulService}"`);
  }
  let services = [name];
  if (opts.services !== undefined) {
    services = opts.services.split(",").map((s) => s.trim()).filter((s) => s);
    if (services.length === 0) throw new UsageError("-s/--service names no service");
  }
  for (const s of services) {
    segment("-s/--service", s);
    if (!NAME_RE.test(s)) throw new UsageError(`invalid service name "${s}"`);
  }
  if (new Set(services).size !== services.length) {
    throw new UsageError("-s/--service names a service twice");
  }
  if (opts.abort && action !== "start-primary") {
    throw new UsageError("--abort goes with start-primary only");
  }
  const lockFile = opts.lockFile || defaultLockFile(name);
  if (!lockFile.startsWith("/")) throw new UsageError("-F/--noopfile must be an absolute path");
  return {
    name,
    action: action as Action,
    consulService: opts.consulService,
    services,
    lockFile,
    lockFileGiven: Boolean(opts.lockFile),
    abort: opts.abort,
  };
}
