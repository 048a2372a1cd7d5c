/**
 * What `config check` verifies before talking to the agent: every file and directory the
 * configuration names is one the binary's sandbox lets it use, and the log root can really be
 * written. The check fails on each setting the sandbox would refuse at run time, instead of
 * saying ok and leaving a script trigger or the restart-storm protection to fail later.
 */
import type { LoadedConfig } from "./config.ts";
import type { Connection } from "./consul/address.ts";
import type { Env } from "./env.ts";
import { describeError } from "./errors.ts";
import { join } from "./paths.ts";

export interface CheckLine {
  ok: boolean;
  what: string;
  /** Advice, not a failure. */
  note?: boolean;
}

/** Whether the sandbox grants `name` on `path` (a prompt counts as refused: nothing prompts). */
function granted(name: "read" | "write", path: string): boolean {
  try {
    return Deno.permissions.querySync({ name, path }).state === "granted";
  } catch {
    return false;
  }
}

/** Create and remove a probe file in `dir` (created when missing, as the logger would). */
function writeProbe(dir: string): string | null {
  try {
    Deno.mkdirSync(dir, { recursive: true });
    const probe = join(dir, `.config-check.${crypto.randomUUID()}`);
    Deno.writeTextFileSync(probe, "", { createNew: true, mode: 0o600 });
    Deno.removeSync(probe);
    return null;
  } catch (e) {
    return describeError(e);
  }
}

export interface SandboxInput {
  loaded: LoadedConfig;
  conn: Connection;
  env: Env;
  /** Directories the binary keeps lock files in. */
  lockDirs: readonly string[];
}

export function sandboxLines(i: SandboxInput): CheckLine[] {
  const out: CheckLine[] = [];
  const cfg = i.loaded.config;
  const read = (what: string, path: string) =>
    out.push(
      granted("read", path)
        ? { ok: true, what: `${what} ${path} is readable by the binary` }
        : { ok: false, what: `${what} ${path} is outside the paths this binary may read` },
    );
  if (i.loaded.path) read("config", i.loaded.path);
  if (!granted("write", cfg.logDir)) {
    out.push({
      ok: false,
      what: `logDir ${cfg.logDir} is outside the paths this binary may write`,
    });
  } else {
    const why = writeProbe(cfg.logDir);
    out.push(
      why === null
        ? { ok: true, what: `logDir ${cfg.logDir} is writable` }
        : { ok: false, what: `logDir ${cfg.logDir} cannot be written: ${why}` },
    );
  }
  const tokenFile = i.env("CONSUL_HTTP_TOKEN_FILE");
  if (i.conn.tokenSource === "CONSUL_HTTP_TOKEN_FILE" && tokenFile) read("token file", tokenFile);
  for (const name of ["CONSUL_CACERT", "CONSUL_CLIENT_CERT", "CONSUL_CLIENT_KEY"]) {
    const p = i.env(name);
    if (p && i.conn.tls) read(name, p);
  }
  for (const dir of i.lockDirs) {
    out.push(
      granted("write", dir)
        ? { ok: true, what: `lock directory ${dir} is writable by the binary` }
        : { ok: false, what: `lock directory ${dir} is outside the paths this binary may write` },
    );
  }
  if (i.conn.tokenSource === "flag") {
    out.push({
      ok: true,
      note: true,
      what: "--token is visible to every local user (in /proc/<pid>/cmdline): for checks and " +
        "watches put the token in a file readable only by root and name it with " +
        "CONSUL_HTTP_TOKEN_FILE",
    });
  }
  return out;
}
