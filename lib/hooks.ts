/**
 * Role-change hooks: the operator's command from the config file (`roleHook`, an argv; never
 * from KV, so whoever can write KV gains no way to run code) runs on the node whose role
 * changed, after the change: promoted, demoted or fenced. It gets the service, the old and new
 * role and the reason as arguments and as POWERCONSUL_HOOK_* variables, runs under
 * triggerTimeout through the runner (own process group, killed as a group at the timeout), and
 * its failure is logged, never undoing the change. Hooks of one node take turns through one lock
 * file, so two never run at once, and each waits for the one before it to finish.
 *
 * A node notices its own role change by remembering, per service, the role its last check saw
 * (`rememberRole`): only then, and only with a hook configured.
 */
import type { Config } from "./config.ts";
import { describeError } from "./errors.ts";
import { join } from "./paths.ts";
import { Executor } from "./plan/apply.ts";
import type { RunStep } from "./plan/step.ts";
import { createLockFile, LOCK_DIR, removeLockFile, selfHolder } from "./sys/lockfile.ts";
import type { Runner } from "./sys/runner.ts";
import { segment } from "./names.ts";
import { syncIo } from "./sys/small_io.ts";

export type RoleEvent = "promoted" | "demoted" | "fenced";

export interface RoleChange {
  service: string;
  event: RoleEvent;
  oldRole: string;
  newRole: string;
  reason: string;
  node: string;
}

export interface HookCtx {
  config: Pick<Config, "roleHook" | "triggerTimeout">;
  runner: Runner;
  log: { info(m: string): void; warn(m: string): void };
  dryRun?: boolean;
  print?: (line: string) => void;
  /** Where the per-node lock and role memory live (default /run/powerconsul; tests: a temp dir). */
  dir?: string;
  sleep?: (ms: number) => Promise<void>;
}

export interface HookOutcome {
  ran: boolean;
  ok: boolean;
  detail: string;
}

/** The event a role change is (pure): null when it is not one a hook hears about. */
export function roleEvent(oldRole: string | null, newRole: string): RoleEvent | null {
  if (oldRole === null || oldRole === newRole) return null;
  if (newRole === "primary") return "promoted";
  if (oldRole === "primary") return "demoted";
  return null;
}

/** The hook's run step (pure), or null without a hook. */
export function hookStep(
  config: Pick<Config, "roleHook" | "triggerTimeout">,
  c: RoleChange,
): RunStep | null {
  if (config.roleHook.length === 0) return null;
  return {
    kind: "run",
    argv: [...config.roleHook, c.service, c.oldRole, c.newRole, c.reason],
    timeoutMs: config.triggerTimeout * 1000,
    label: `role hook (${c.service} ${c.event}: ${c.oldRole} -> ${c.newRole})`,
    env: {
      POWERCONSUL_HOOK_SERVICE: c.service,
      POWERCONSUL_HOOK_EVENT: c.event,
      POWERCONSUL_HOOK_OLD_ROLE: c.oldRole,
      POWERCONSUL_HOOK_NEW_ROLE: c.newRole,
      POWERCONSUL_HOOK_REASON: c.reason,
      POWERCONSUL_HOOK_NODE: c.node,
    },
  };
}

/** How often a hook waiting for its turn looks again. */
const TURN_POLL_MS = 100;

/** Run the hook for a change. Never throws: every failure is logged and returned. */
export async function runRoleHook(ctx: HookCtx, change: RoleChange): Promise<HookOutcome> {
  const step = hookStep(ctx.config, change);
  if (!step) return { ran: false, ok: true, detail: "no roleHook configured" };
  const ex = new Executor({
    run: (s) => ctx.runner.run(s.argv, { timeoutMs: s.timeoutMs, env: s.env ?? {} }),
    kvPut: () => Promise.reject(new Error("not here")),
    setTags: () => Promise.reject(new Error("not here")),
    lockFile: () => Promise.reject(new Error("not here")),
    sleep: ctx.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
  }, {
    dryRun: ctx.dryRun ?? false,
    print: ctx.print ?? (() => {}),
    record: (l) => ctx.log.info(l),
  });
  if (ex.dryRun) {
    await ex.apply(step);
    return { ran: false, ok: true, detail: "dry run" };
  }
  const lock = join(ctx.dir ?? LOCK_DIR, "role-hook.lock");
  const sleep = ctx.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const waitUntil = Date.now() + step.timeoutMs;
  try {
    for (;;) {
      const made = await createLockFile(lock, {
        by: "powerconsul",
        action: "role-hook",
        name: change.event,
        consulService: change.service,
        holder: await selfHolder(),
        at: new Date().toISOString(),
      });
      if (made.created) break;
      if (Date.now() > waitUntil) {
        const detail = `not run: another hook held ${lock} for longer than triggerTimeout`;
        ctx.log.warn(`role hook for ${change.service} ${change.event}: ${detail}`);
        return { ran: false, ok: false, detail };
      }
      await sleep(TURN_POLL_MS);
    }
  } catch (e) {
    const detail = `not run: ${describeError(e)}`;
    ctx.log.warn(`role hook for ${change.service} ${change.event}: ${detail}`);
    return { ran: false, ok: false, detail };
  }
  try {
    const o = await ex.apply(step);
    if (!o.ok) {
      ctx.log.warn(
        `role hook for ${change.service} ${change.event} failed (${o.detail}); the role change ` +
          `stands${o.run?.stderr ? `: ${o.run.stderr.trim().split("\n")[0]}` : ""}`,
      );
    }
    return { ran: true, ok: o.ok, detail: o.detail };
  } finally {
    await removeLockFile(lock).catch(() => {});
  }
}

/**
 * Remember the role this node's check saw for a service and return the one remembered before
 * (null the first time, or when the memory is unreadable: no change is assumed then).
 */
export function rememberRole(
  dir: string,
  node: string,
  service: string,
  role: string,
): Promise<string | null> {
  return syncIo(() => rememberRoleNow(dir, node, service, role));
}

function rememberRoleNow(dir: string, node: string, service: string, role: string): string | null {
  const nodeDir = join(dir, "role", segment("node", node || "-"));
  const path = join(nodeDir, segment("service", service));
  let before: string | null = null;
  try {
    before = Deno.readTextFileSync(path).trim() || null;
  } catch {
    before = null;
  }
  if (before !== role) {
    Deno.mkdirSync(nodeDir, { recursive: true, mode: 0o700 });
    const tmp = `${path}.${Deno.pid}.tmp`;
    Deno.writeTextFileSync(tmp, role + "\n", { mode: 0o600 });
    Deno.renameSync(tmp, path);
  }
  return before;
}

/**
 * The guard's call once a fence has stopped the services (lib/ha/guard.ts): the hook hears
 * primary -> fenced with the fence's reason, and the role memory becomes "fenced", so the
 * check's next change is told from there (back to primary is "promoted"; to secondary is no
 * news: the services are already stopped). Nothing without a roleHook.
 */
export async function noticeFence(
  ctx: HookCtx,
  at: { service: string; node: string; reason: string },
): Promise<HookOutcome | null> {
  if (ctx.config.roleHook.length === 0 || ctx.dryRun) return null;
  try {
    await rememberRole(ctx.dir ?? LOCK_DIR, at.node, at.service, "fenced");
  } catch (e) {
    ctx.log.warn(`role hook: cannot remember the role of ${at.service}: ${describeError(e)}`);
  }
  return await runRoleHook(ctx, {
    service: at.service,
    event: "fenced",
    oldRole: "primary",
    newRole: "fenced",
    reason: at.reason,
    node: at.node,
  });
}

/**
 * The check's one call: remember the role it saw and, when that is a change a hook hears about
 * (to or from primary), run the hook. Nothing at all without a roleHook, or in a dry run.
 */
export async function noticeRole(
  ctx: HookCtx,
  at: { service: string; node: string; role: string | null; reason: string },
): Promise<HookOutcome | null> {
  if (ctx.config.roleHook.length === 0 || ctx.dryRun || at.role === null) return null;
  let before: string | null;
  try {
    before = await rememberRole(ctx.dir ?? LOCK_DIR, at.node, at.service, at.role);
  } catch (e) {
    ctx.log.warn(`role hook: cannot remember the role of ${at.service}: ${describeError(e)}`);
    return null;
  }
  const event = roleEvent(before, at.role);
  if (!event) return null;
  return await runRoleHook(ctx, {
    service: at.service,
    event,
    oldRole: before!,
    newRole: at.role,
    reason: at.reason,
    node: at.node,
  });
}
