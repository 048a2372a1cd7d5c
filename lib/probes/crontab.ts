/**
 * Is a user's crontab installed? `<crontabDir>/<user>` exists, is owned by `<user>:crontab`,
 * has at least one line that is not a comment or blank, and contains the pattern if given.
 */
import { join } from "../paths.ts";
import { ProbeError } from "../errors.ts";

export interface CrontabFacts {
  exists: boolean;
  uid?: number;
  gid?: number;
  text?: string;
}

export interface CrontabVerdict {
  installed: boolean;
  detail: string;
}

/** Parse /etc/passwd or /etc/group into name → id. */
export function parseIdFile(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length >= 3 && f[0]) out.set(f[0], Number(f[2]));
  }
  return out;
}

/** The verdict for a crontab file (pure). */
export function judgeCrontab(
  user: string,
  facts: CrontabFacts,
  ids: { uid: number; crontabGid: number },
  pattern?: string,
): CrontabVerdict {
  if (!facts.exists) return { installed: false, detail: `no crontab for ${user}` };
  if (facts.uid !== ids.uid) {
    return {
      installed: false,
      detail: `crontab of ${user} is owned by uid ${facts.uid}, not ${ids.uid}`,
    };
  }
  if (facts.gid !== ids.crontabGid) {
    return {
      installed: false,
      detail: `crontab of ${user} has group gid ${facts.gid}, not crontab (${ids.crontabGid})`,
    };
  }
  const lines = (facts.text ?? "").split("\n").filter((l) =>
    l.trim() !== "" && !l.trim().startsWith("#")
  );
  if (lines.length === 0) {
    return { installed: false, detail: `crontab of ${user} has only comments` };
  }
  if (pattern !== undefined && !(facts.text ?? "").includes(pattern)) {
    return { installed: false, detail: `crontab of ${user} does not contain "${pattern}"` };
  }
  return {
    installed: true,
    detail: `crontab of ${user} installed (${lines.length} entries${
      pattern ? `, contains "${pattern}"` : ""
    })`,
  };
}

export async function probeCrontab(
  dir: string,
  user: string,
  pattern?: string,
): Promise<CrontabVerdict> {
  let users: Map<string, number>;
  let groups: Map<string, number>;
  try {
    users = parseIdFile(await Deno.readTextFile("/etc/passwd"));
    groups = parseIdFile(await Deno.readTextFile("/etc/group"));
  } catch (e) {
    throw new ProbeError(`cannot read the user database: ${(e as Error).message.split("\n")[0]}`);
  }
  const uid = users.get(user);
  if (uid === undefined) throw new ProbeError(`no such user: ${user}`);
  const crontabGid = groups.get("crontab");
  if (crontabGid === undefined) {
    throw new ProbeError(`no "crontab" group on this host (is cron installed?)`);
  }
  const path = join(dir, user);
  let facts: CrontabFacts;
  try {
    const st = await Deno.stat(path);
    facts = {
      exists: true,
      uid: st.uid ?? -1,
      gid: st.gid ?? -1,
      text: await Deno.readTextFile(path),
    };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) facts = { exists: false };
    else throw new ProbeError(`cannot read ${path}: ${(e as Error).message.split("\n")[0]}`);
  }
  return judgeCrontab(user, facts, { uid, crontabGid }, pattern);
}
