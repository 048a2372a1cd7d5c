/**
 * powerconsul's lock files ("noop files" to the check: a check given the same path with -F
 * passes while one exists) and the rule for honouring one.
 *
 * Writing: a lock file is created exclusively (O_CREAT|O_EXCL, which never follows a symlink)
 * in a directory only root can write — the default one, /run/powerconsul, is created 0700. A
 * directory other users can write (/var/lock, /run/lock: mode 1777) is refused, since anyone
 * could plant the file first.
 *
 * Reading (pure rule, `judgeNoopFile`): a file counts only when it is a regular file owned by
 * root, not a symlink; anything else is "foreign" and ignored with a note. A file that names
 * the process holding it (pid and that process's start time, so a reused pid is not mistaken
 * for it) is "stale" once that process is gone: it is ignored, and the next action takes it
 * over. A root-owned file without a holder (an operator's `touch`, or a node in a switch, which
 * the switch protocol clears) is honoured.
 */
import { dirname } from "../paths.ts";
import { describeError } from "../errors.ts";

/** Where lock files live when -F is not given. */
export const LOCK_DIR = "/run/powerconsul";

/** The process holding a lock: its pid and its start time (as `ps -o lstart` says it). */
export interface Holder {
  pid: number;
  start: string;
}

export interface LockRecord {
  by: "powerconsul";
  /** What took it: "restart", "promote", "demote". */
  action: string;
  name: string;
  consulService: string;
  /** Set while one process holds the lock for its lifetime (restart); null otherwise. */
  holder: Holder | null;
  at: string;
}

export function lockText(r: LockRecord): string {
  return JSON.stringify(r) + "\n";
}

/** A lock file's content, or null when it was not written by powerconsul (or is garbled). */
export function parseLockRecord(text: string): LockRecord | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null) return null;
  const o = v as Record<string, unknown>;
  if (o.by !== "powerconsul" || typeof o.action !== "string") return null;
  const h = o.holder as Record<string, unknown> | null | undefined;
  const holder = h && typeof h === "object" && typeof h.pid === "number" &&
      typeof h.start === "string"
    ? { pid: h.pid, start: h.start }
    : null;
  return {
    by: "powerconsul",
    action: o.action,
    name: typeof o.name === "string" ? o.name : "",
    consulService: typeof o.consulService === "string" ? o.consulService : "",
    holder,
    at: typeof o.at === "string" ? o.at : "",
  };
}

/** What the file system says about a path, gathered without following a symlink. */
export interface NoopFacts {
  entry: null | { type: "file" | "symlink" | "directory" | "other"; uid: number | null };
  /** The content of a regular file, read through the same inode lstat saw. */
  text: string | null;
  /** For a record with a holder: that pid's start time now (null: no such process; undefined:
   * it could not be told). */
  holderStart?: string | null | undefined;
}

export type NoopState = "absent" | "honoured" | "foreign" | "stale";

export interface NoopInspection {
  state: NoopState;
  /** One sentence for the check's message ("" when absent). */
  note: string;
  record: LockRecord | null;
}

/** The rule: does the noop/lock file at `path` count? Pure. */
export function judgeNoopFile(path: string, f: NoopFacts): NoopInspection {
  const ignored = (why: string): NoopInspection => ({
    state: "foreign",
    note: `noop file ${path} ignored: ${why}`,
    record: null,
  });
  if (f.entry === null) return { state: "absent", note: "", record: null };
  if (f.entry.type === "symlink") return ignored("it is a symlink");
  if (f.entry.type !== "file") return ignored("it is not a regular file");
  if (f.entry.uid !== 0) return ignored(`it is owned by uid ${f.entry.uid}, not root`);
  if (f.text === null) return ignored("it changed while it was read");
  const record = parseLockRecord(f.text);
  if (record?.holder) {
    const h = record.holder;
    if (f.holderStart === undefined) {
      return {
        state: "honoured",
        note: `noop file ${path} exists (${record.action} by pid ${h.pid} since ${record.at}; ` +
          "whether that process runs could not be told)",
        record,
      };
    }
    if (f.holderStart !== h.start) {
      return {
        state: "stale",
        note: `noop file ${path} ignored: left by ${record.action} (pid ${h.pid}, since ` +
          `${record.at}), which is no longer running`,
        record,
      };
    }
    return {
      state: "honoured",
      note: `noop file ${path} exists (${record.action} by pid ${h.pid} since ${record.at})`,
      record,
    };
  }
  return {
    state: "honoured",
    note: record
      ? `noop file ${path} exists (${record.action} since ${record.at})`
      : `noop file ${path} exists (maintenance under way)`,
    record,
  };
}

/**
 * The start time of a running process: null when there is none with that pid, undefined when
 * it cannot be told (the sandbox forbids reading /proc/<pid>, so `ps` answers, with a timeout).
 */
export async function processStart(pid: number): Promise<string | null | undefined> {
  try {
    const out = await new Deno.Command("ps", {
      args: ["-o", "lstart=", "-p", String(pid)],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
      env: { LC_ALL: "C", TZ: "UTC" },
      clearEnv: true,
      signal: AbortSignal.timeout(2000),
    }).output();
    if (out.code === 1) return null;
    const text = new TextDecoder().decode(out.stdout).trim().replace(/\s+/g, " ");
    return out.code === 0 && text !== "" ? text : undefined;
  } catch {
    return undefined;
  }
}

/** This process as a lock holder. */
export async function selfHolder(): Promise<Holder> {
  const start = await processStart(Deno.pid);
  if (typeof start !== "string") throw new Error("cannot read this process's start time (ps)");
  return { pid: Deno.pid, start };
}

/** Gather the facts about `path` (never following a symlink) and judge them. */
export async function inspectNoopFile(path: string): Promise<NoopInspection> {
  return judgeNoopFile(path, await noopFacts(path));
}

async function noopFacts(path: string): Promise<NoopFacts> {
  let st: Deno.FileInfo;
  try {
    st = await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { entry: null, text: null };
    throw new Error(`cannot check noop file ${path}: ${describeError(e)}`);
  }
  const type = st.isSymlink
    ? "symlink"
    : st.isFile
    ? "file"
    : st.isDirectory
    ? "directory"
    : "other";
  const facts: NoopFacts = { entry: { type, uid: st.uid }, text: null };
  if (type !== "file" || st.uid !== 0) return facts;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { entry: null, text: null };
    throw new Error(`cannot read noop file ${path}: ${describeError(e)}`);
  }
  try {
    const again = await file.stat();
    // Replaced between lstat and open (by a symlink or another file): judge nothing read.
    if (again.ino !== st.ino || again.dev !== st.dev || !again.isFile) return facts;
    const buf = new Uint8Array(4096);
    const n = (await file.read(buf)) ?? 0;
    facts.text = new TextDecoder().decode(buf.subarray(0, n));
  } finally {
    file.close();
  }
  const record = parseLockRecord(facts.text);
  if (record?.holder) facts.holderStart = await processStart(record.holder.pid);
  return facts;
}

/** Why `dir` may not hold powerconsul's lock files, or null when it may. Pure. */
export function lockDirProblem(
  dir: string,
  st: { isSymlink: boolean; isDirectory: boolean; uid: number | null; mode: number | null },
): string | null {
  if (st.isSymlink) return `lock directory ${dir} is a symlink`;
  if (!st.isDirectory) return `lock directory ${dir} is not a directory`;
  if (st.uid !== 0) return `lock directory ${dir} is not owned by root`;
  if (st.mode === null || (st.mode & 0o022) !== 0) {
    const m = st.mode === null ? "?" : (st.mode & 0o7777).toString(8);
    return `lock directory ${dir} is writable by other users (mode ${m}); ` +
      `use a directory only root can write, such as ${LOCK_DIR}`;
  }
  return null;
}

/** Make sure the directory of `path` may hold lock files (creating the default one 0700). */
export async function ensureLockDir(path: string): Promise<void> {
  const dir = dirname(path);
  if (dir === LOCK_DIR) {
    try {
      await Deno.mkdir(dir, { mode: 0o700 });
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) {
        throw new Error(`cannot create lock directory ${dir}: ${describeError(e)}`);
      }
    }
  }
  let st: Deno.FileInfo;
  try {
    st = await Deno.lstat(dir);
  } catch (e) {
    throw new Error(`cannot use lock directory ${dir}: ${describeError(e)}`);
  }
  const problem = lockDirProblem(dir, st);
  if (problem) throw new Error(problem);
}

export type CreateResult =
  | { created: true; tookOver: NoopInspection | null }
  | { created: false; existing: NoopInspection };

/**
 * Create the lock file exclusively. An existing stale one (its holder is gone) is taken over;
 * any other existing file is left alone and reported.
 */
export async function createLockFile(path: string, record: LockRecord): Promise<CreateResult> {
  await ensureLockDir(path);
  let tookOver: NoopInspection | null = null;
  for (let attempt = 0; attempt < 2; attempt++) {
    if (await placeLockFile(path, record)) return { created: true, tookOver };
    const existing = await inspectNoopFile(path);
    if (existing.state !== "stale" || attempt > 0) return { created: false, existing };
    tookOver = existing;
    await removeLockFile(path);
  }
  return { created: false, existing: await inspectNoopFile(path) };
}

/**
 * Put the record at `path` in one step, so the file never exists without its holder (a process
 * killed half-way must not leave an empty file that reads as maintenance for ever): written to
 * a fresh sibling first (created exclusively), then hard-linked into place — link() fails when
 * the path exists and never follows a symlink there. false when something is already there.
 */
async function placeLockFile(path: string, record: LockRecord): Promise<boolean> {
  const draft = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.new`;
  const f = await Deno.open(draft, { write: true, createNew: true, mode: 0o600 });
  try {
    try {
      await f.write(new TextEncoder().encode(lockText(record)));
    } finally {
      f.close();
    }
    await Deno.link(draft, path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return false;
    throw e;
  } finally {
    await Deno.remove(draft).catch(() => {});
  }
}

/** Remove a lock file (a symlink in its place is removed itself, never its target). */
export async function removeLockFile(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** The lock file's record as the service wrapper reads it (null: absent or not powerconsul's). */
export async function readLockRecord(
  path: string,
): Promise<{ inspection: NoopInspection; record: LockRecord | null }> {
  const inspection = await inspectNoopFile(path);
  return { inspection, record: inspection.state === "absent" ? null : inspection.record };
}
