/**
 * Real system fixtures for behaviour tests (the tests run as root): LSB init scripts managing a
 * tiny daemon, per-test directories inside the CLI's sandbox paths, users and ownership.
 *
 * @module
 */

import { join } from "node:path";

/** Behaviour switches of a test init script. */
export interface InitScriptBehaviour {
  /** `status` never returns (sleeps; for probe-timeout tests). */
  hangStatus?: boolean;
  /** `start` prints a failure and exits 1 without starting anything. */
  failStart?: boolean;
}

/** A test init script `/etc/init.d/<name>` and its daemon. */
export interface InitScriptHandle extends AsyncDisposable {
  /** Service name (`/etc/init.d/<name>`). */
  name: string;
  /** Path of the init script. */
  script: string;
  /** Pid file of the daemon, `/run/<name>.pid`. */
  pidFile: string;
  /**
   * `argv[0]` of the daemon process (`pc-daemon-<name>`, the program is `sleep`), e.g. for
   * `check_procs -a`. A hung `status` runs as `pc-daemon-<name>-status`.
   */
  marker: string;
  /** Run `<script> start` directly; throws if it fails. */
  start(): Promise<void>;
  /** Run `<script> stop` directly; throws if it fails. */
  stop(): Promise<void>;
  /** Whether the daemon runs: pid file present and `/proc/<pid>` is our daemon. */
  isRunning(): Promise<boolean>;
  /** Rewrite the script with other behaviour switches (the daemon keeps running). */
  setBehaviour(b: InitScriptBehaviour): Promise<void>;
  /** Stop the daemon, kill anything carrying the marker, delete the script and pid file. */
  remove(): Promise<void>;
}

/** Per-test directories inside the paths the CLI's sandbox may touch. */
export interface SandboxDirs extends AsyncDisposable {
  /** `/etc/powerconsul/test-<tag>-<rand>` (the CLI may read it). */
  configDir: string;
  /** `/var/log/powerconsul/test-<tag>-<rand>` (the CLI may read and write it). */
  logDir: string;
  /** `/var/spool/cron/test-<tag>-<rand>` (the CLI may read it). */
  crontabDir: string;
  /** `/var/lock/powerconsul-test-<tag>-<rand>` (the CLI may read it). */
  lockDir: string;
  /** Remove all four directories. Idempotent. */
  remove(): Promise<void>;
}

/** `<prefix><8 random hex digits>`: a name no other test (or concurrent test run) uses. */
export function uniqueName(prefix = "pct"): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return prefix + [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function initScriptText(name: string, b: InitScriptBehaviour): string {
  const pidFile = `/run/${name}.pid`;
  const marker = `pc-daemon-${name}`;
  const start = b.failStart
    ? `  echo "Starting ${name}: failed (test script set to fail)"\n  exit 1`
    : `  if is_running; then echo "${name} already running"; exit 0; fi
  rm -f "$PIDFILE"
  setsid bash -c 'echo $$ > "$1"; exec -a "$2" sleep 100000' _ "$PIDFILE" "$MARKER" \\
    </dev/null >/dev/null 2>&1 &
  i=0
  while [ $i -lt 100 ]; do
    if is_running; then echo "Starting ${name}: ok"; exit 0; fi
    sleep 0.05
    i=$((i + 1))
  done
  echo "Starting ${name}: failed (no daemon after 5 s)"
  exit 1`;
  const status = b.hangStatus
    ? `  exec -a "$MARKER-status" sleep 100000`
    : `  if is_running; then echo "${name} is running (pid $(cat "$PIDFILE"))"; exit 0; fi
  if [ -f "$PIDFILE" ]; then echo "${name} is dead but pid file exists"; exit 1; fi
  echo "${name} is not running"
  exit 3`;
  return `#!/bin/bash
### BEGIN INIT INFO
# Provides:          ${name}
# Required-Start:
# Required-Stop:
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: powerconsul test daemon ${name}
### END INIT INFO
# Written by the powerconsul test harness; removed when the test ends.

PIDFILE=${pidFile}
MARKER=${marker}

is_running() {
  [ -f "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE" 2>/dev/null)
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  [ "$(tr '\\0' '\\n' < "/proc/$pid/cmdline" | head -n 1)" = "$MARKER" ]
}

do_start() {
${start}
}

do_stop() {
  if is_running; then
    pid=$(cat "$PIDFILE")
    kill -TERM "$pid" 2>/dev/null
    i=0
    while [ $i -lt 100 ] && is_running; do sleep 0.05; i=$((i + 1)); done
    if is_running; then kill -KILL "$pid" 2>/dev/null; fi
    rm -f "$PIDFILE"
    echo "Stopping ${name}: ok"
  else
    rm -f "$PIDFILE"
    echo "${name} not running"
  fi
  exit 0
}

do_status() {
${status}
}

case "$1" in
  start) do_start ;;
  stop) do_stop ;;
  restart | force-reload)
    "$0" stop >/dev/null
    do_start
    ;;
  status) do_status ;;
  *)
    echo "Usage: $0 {start|stop|restart|force-reload|status}" >&2
    exit 2
    ;;
esac
`;
}

async function run(argv: string[], timeoutMs = 20_000): Promise<Deno.CommandOutput> {
  return await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
}

function describe(out: Deno.CommandOutput): string {
  const dec = new TextDecoder();
  return `exit ${out.code}: ${dec.decode(out.stdout)}${dec.decode(out.stderr)}`.trim();
}

function firstArg(pid: string): string | undefined {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0")[0];
  } catch {
    return undefined;
  }
}

/** SIGKILL every process whose argv[0] is `marker` or `marker-status`. */
function killMarker(marker: string): void {
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const a0 = firstArg(e.name);
    if (a0 === marker || a0 === `${marker}-status`) {
      try {
        Deno.kill(Number(e.name), "SIGKILL");
      } catch {
        // gone
      }
    }
  }
}

/**
 * Write a real LSB init script `/etc/init.d/<name>` (mode 0755) managing a tiny daemon
 * (`sleep`, started with `setsid`, pid in `/run/<name>.pid`, `argv[0]` = `pc-daemon-<name>`).
 * Actions: start (idempotent), stop (idempotent), restart, force-reload, status (LSB codes 0
 * running, 1 dead but pid file exists, 3 not running); anything else exits 2. Works through
 * `service <name> …`. Use a unique name ({@link uniqueName}) and remove it in `finally`.
 */
export async function installInitScript(
  name: string,
  opts: InitScriptBehaviour = {},
): Promise<InitScriptHandle> {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw new Error(`bad service name ${name}`);
  const script = `/etc/init.d/${name}`;
  const pidFile = `/run/${name}.pid`;
  const marker = `pc-daemon-${name}`;
  const write = async (b: InitScriptBehaviour) => {
    const tmp = `${script}.pc-tmp`;
    await Deno.writeTextFile(tmp, initScriptText(name, b), { mode: 0o755 });
    await Deno.chmod(tmp, 0o755);
    await Deno.rename(tmp, script);
  };
  await write(opts);
  const action = async (a: string) => {
    const out = await run([script, a]);
    if (!out.success) throw new Error(`${script} ${a}: ${describe(out)}`);
  };
  let removed: Promise<void> | undefined;
  const handle: InitScriptHandle = {
    name,
    script,
    pidFile,
    marker,
    start: () => action("start"),
    stop: () => action("stop"),
    isRunning() {
      let pid: string;
      try {
        pid = Deno.readTextFileSync(pidFile).trim();
      } catch {
        return Promise.resolve(false);
      }
      return Promise.resolve(/^\d+$/.test(pid) && firstArg(pid) === marker);
    },
    setBehaviour: write,
    remove() {
      removed ??= (async () => {
        try {
          await write({});
          await run([script, "stop"], 10_000);
        } catch {
          // fall through to the hard way
        }
        killMarker(marker);
        for (const f of [script, `${script}.pc-tmp`, pidFile]) {
          await Deno.remove(f).catch(() => {});
        }
      })();
      return removed;
    },
    [Symbol.asyncDispose]() {
      return this.remove();
    },
  };
  return handle;
}

/**
 * Create per-test directories inside the paths the CLI's sandbox may touch (all with the same
 * unique suffix): config, log, crontab spool and lock directories. Remove them in `finally`.
 */
export async function sandboxDirs(tag: string): Promise<SandboxDirs> {
  const safe = tag.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "t";
  const suffix = uniqueName(`${safe}-`);
  const dirs = {
    configDir: `/etc/powerconsul/test-${suffix}`,
    logDir: `/var/log/powerconsul/test-${suffix}`,
    crontabDir: `/var/spool/cron/test-${suffix}`,
    lockDir: `/var/lock/powerconsul-test-${suffix}`,
  };
  for (const d of Object.values(dirs)) await Deno.mkdir(d, { recursive: true });
  let removed: Promise<void> | undefined;
  const remove = () => {
    removed ??= (async () => {
      for (const d of Object.values(dirs)) {
        await Deno.remove(d, { recursive: true }).catch(() => {});
      }
    })();
    return removed;
  };
  return { ...dirs, remove, [Symbol.asyncDispose]: remove };
}

/** Write `obj` as JSON to `<dir>/config.json`; returns the path. */
export async function writeConfig(dir: string, obj: unknown): Promise<string> {
  const path = join(dir, "config.json");
  await Deno.writeTextFile(path, JSON.stringify(obj, null, 2) + "\n");
  return path;
}

function lookupId(file: string, name: string): number | undefined {
  for (const line of Deno.readTextFileSync(file).split("\n")) {
    const f = line.split(":");
    if (f[0] === name && f[2] !== undefined) return Number(f[2]);
  }
  return undefined;
}

/** Numeric uid of `user` from /etc/passwd (throws if missing). */
export function uidOf(user: string): number {
  const id = lookupId("/etc/passwd", user);
  if (id === undefined) throw new Error(`no user ${user} in /etc/passwd`);
  return id;
}

/** Numeric gid of `group` from /etc/group (throws if missing). */
export function gidOf(group: string): number {
  const id = lookupId("/etc/group", group);
  if (id === undefined) throw new Error(`no group ${group} in /etc/group`);
  return id;
}

/**
 * Create system user `name` (no home, nologin shell) unless it exists. Safe to call from
 * concurrent test runs (a lost race or a busy passwd lock is retried).
 */
export async function ensureUser(name: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if (lookupId("/etc/passwd", name) !== undefined) return;
    const out = await run(["useradd", "-M", "-r", "-s", "/usr/sbin/nologin", name]);
    if (out.success || out.code === 9 /* already exists */) continue;
    if (/lock/i.test(describe(out))) {
      // "cannot lock /etc/passwd; try again later": another useradd is running
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    throw new Error(`useradd ${name}: ${describe(out)}`);
  }
  throw new Error(`could not create user ${name}`);
}

/** `chown user:group path`, with ids read from /etc/passwd and /etc/group. */
export async function chown(path: string, user: string, group: string): Promise<void> {
  await Deno.chown(path, uidOf(user), gidOf(group));
}

/** What the cluster-aware init script of examples/init.d needs to know. */
export interface WrapperScript {
  /** `/etc/init.d/<name>`, and the name `service <name> …` acts as. */
  name: string;
  consulService: string;
  /** Local services, in start order. */
  services: string[];
  lockFile: string;
  config: string;
  /** The node's own agent, host:port. */
  agentAddr: string;
  /** The sandbox's extra net list (POWERCONSUL_NET). */
  net: string;
  /** The powerconsul executable (the dev launcher in tests). */
  launcher: string;
}

/**
 * Install the two-line init script of examples/init.d as `/etc/init.d/<name>`, pointing at the
 * dev launcher. `service` clears the environment, so the agent address, the sandbox's net list
 * and HOME are set in the script. Returns its path; remove it in `finally`.
 */
export async function installWrapperScript(w: WrapperScript): Promise<string> {
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const path = `/etc/init.d/${w.name}`;
  const text = `#!/bin/sh\nexec /usr/bin/env HOME=/root POWERCONSUL_NET=${q(w.net)} ` +
    `CONSUL_HTTP_ADDR=${q(w.agentAddr)} ${q(w.launcher)} service ${q(w.name)} "$@" ` +
    `-S ${q(w.consulService)} -s ${q(w.services.join(","))} -F ${q(w.lockFile)} ` +
    `--config ${q(w.config)}\n`;
  await Deno.writeTextFile(path, text, { mode: 0o755 });
  await Deno.chmod(path, 0o755);
  return path;
}
