/**
 * The key-watch handler of this node's promote or demote switch key (`service <name> promote`).
 *
 *   START  take the lock file (checks pass while it exists), a demoting node stops its
 *          services, then answer WAIT — or FAILED when it could not — with a checked write,
 *          so an --abort that came in between is never overwritten;
 *   NULL   with this node's lock file: converge to the cluster document (an active node starts
 *          its services), then drop the lock file;
 *   else   nothing.
 *
 * The reads come through `HandlerPorts` and every change is a step for the executor, so unit
 * tests drive it with fakes and --dry-run prints the same steps.
 */

import { Exit } from "../exit_codes.ts";
import type { Executor } from "../plan/apply.ts";
import type { Step } from "../plan/step.ts";
import type { Manager } from "../probes/service.ts";
import type { NoopInspection } from "../sys/lockfile.ts";
import { converge, convergeSteps, type Say } from "./actions.ts";
import {
  type LocalState,
  planHandler,
  roleKey,
  roleKeyValue,
  type ServiceArgs,
  type SwitchKind,
} from "./plan.ts";
import { parseWatchInput } from "./plan.ts";
import type { ClusterView } from "../cluster/view.ts";
import type { Now } from "../ha/lease.ts";
import { guardDownSteps, type GuardInputs, guardUpSteps } from "./guarding.ts";

export interface HandlerPorts {
  node(): Promise<string>;
  /** The watch's stdin; null when run by hand. */
  readStdin(): Promise<string | null>;
  kvGet(key: string): Promise<{ value: string | null; modifyIndex: number } | null>;
  inspectLock(path: string): Promise<NoopInspection>;
  readStates(services: string[]): Promise<LocalState[]>;
  /** This node's role now: throws when the cluster state is unknown. */
  role(): Promise<{ active: boolean; reason: string; view?: ClusterView }>;
  describeError(e: unknown): string;
  /** The boot clock (for the lease a promote writes); null when it cannot be read. */
  bootNow?(): Promise<Now | null>;
}

export interface HandlerSettings {
  servicePrefix: string;
  manager: Manager;
  actionTimeoutMs: number;
  /** What the lease guard needs (absent: no guard, as in unit tests of the switch alone). */
  guard?: GuardInputs;
}

export async function handleSwitchKey(
  ports: HandlerPorts,
  ex: Executor,
  set: HandlerSettings,
  a: ServiceArgs,
  kind: SwitchKind,
  say: Say,
): Promise<number> {
  const startP = ports.bootNow?.() ?? Promise.resolve(null);
  const node = await ports.node();
  const key = roleKey(set.servicePrefix, a.consulService, node, kind);
  const stdin = await ports.readStdin();
  let input = stdin === null ? null : parseWatchInput(stdin);
  if (input?.key && input.key !== key) {
    say(
      `${kind}: FAILED (the watch is on ${input.key}, but this node's switch key is ${key}; ` +
        `fix the watch definition)`,
      "error",
    );
    return Exit.FAILED;
  }
  // Run by hand (no watch input): read the key itself.
  if (input === null) input = { key, value: roleKeyValue((await ports.kvGet(key))?.value) };
  const lock = await ports.inspectLock(a.lockFile);
  const record = lock.state === "absent" ? null : lock.record;
  const hp = planHandler(kind, input.value, record, a.consulService);

  if (hp.op === "nothing") {
    say(`${kind}: nothing to do (${hp.why})`);
    return Exit.OK;
  }
  const timeoutMs = set.actionTimeoutMs;

  if (hp.op === "prepare") {
    const states = kind === "demote" ? await ports.readStates(a.services) : [];
    // Already holding this switch's lock file (a repeated START): keep it.
    const holding = lock.state === "honoured" && record !== null && record.action === kind &&
      record.consulService === a.consulService;
    let ok = true;
    if (!holding) {
      const take: Step = {
        kind: "lock-file",
        op: "create",
        path: a.lockFile,
        owner: { action: kind, name: a.name, consulService: a.consulService, holder: "none" },
      };
      const o = await ex.apply(take);
      if (!o.ok) {
        say(`lock file ${a.lockFile}: FAILED (${o.detail})`, "error");
        ok = false;
      }
    }
    if (ok && !ex.dryRun) say(`lock file ${a.lockFile}: ok`);
    if (ok && kind === "demote" && set.guard) {
      for (const o of await ex.applyAll(guardDownSteps(a.consulService, node))) {
        if (!o.ok) say(`lease guard: FAILED (${o.detail})`, "error");
      }
    }
    if (ok && kind === "demote") {
      ok = await converge(ex, convergeSteps("stop", states, set.manager, timeoutMs), say);
    }
    const cur = await ports.kvGet(key);
    if (roleKeyValue(cur?.value) !== "START") {
      say(`${kind}: key changed to ${roleKeyValue(cur?.value)} meanwhile: not answering`, "warn");
      return Exit.OK;
    }
    const answer = ok ? "WAIT" : "FAILED";
    const o = await ex.apply({
      kind: "kv-write",
      key,
      value: answer,
      cas: cur!.modifyIndex,
      why: "answer the switch",
    });
    if (ex.dryRun) return Exit.OK;
    say(
      `${key} = ${answer}: ${o.ok ? "ok" : `FAILED (${o.detail})`}`,
      ok && o.ok ? "info" : "error",
    );
    return ok && o.ok ? Exit.OK : Exit.FAILED;
  }

  // finish: converge to the document, then drop the lock file. Unknown state: keep the lock
  // file (checks keep passing, nothing acts) and fail; the next watch fire retries.
  let role;
  try {
    role = await ports.role();
  } catch (e) {
    say(
      `${kind}: FAILED (cluster state unknown: ${ports.describeError(e)}); lock file kept`,
      "error",
    );
    return Exit.UNKNOWN;
  }
  let ok = true;
  const start = await startP;
  if (role.active && set.guard && role.view && start) {
    const up = guardUpSteps(role.view, set.guard, start, `service ${kind}`);
    for (const o of await ex.applyAll(up, true)) {
      if (o.ok || ex.dryRun) continue;
      say(`lease guard: FAILED (${o.detail}); services not started, lock file kept`, "error");
      return Exit.FAILED;
    }
  } else if (!role.active && set.guard) {
    await ex.applyAll(guardDownSteps(a.consulService, node));
  }
  if (role.active) {
    say(`${kind}: this node is active (${role.reason}): starting services`);
    const states = await ports.readStates(a.services);
    ok = await converge(ex, convergeSteps("start", states, set.manager, timeoutMs), say);
  } else {
    say(`${kind}: this node is a standby (${role.reason}): services stay stopped`);
  }
  const o = await ex.apply({ kind: "lock-file", op: "remove", path: a.lockFile });
  if (!ex.dryRun) {
    say(`lock file ${a.lockFile} removed: ${o.ok ? "ok" : `FAILED (${o.detail})`}`);
  }
  return ok && o.ok ? Exit.OK : Exit.FAILED;
}
