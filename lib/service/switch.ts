/**
 * start-primary: the initiator's side and the promote/demote key-watch handlers.
 *
 *   initiator (a standby)                         each node's key watch on its own flags
 *   1. read the document (index i), plan the swap
 *   2. take the switch lock (session lock on <servicePrefix>/<svc>/.switch)
 *   3. missing flags → NULL
 *   4. promote=START per standby, demote=START per active
 *                                                 demote START: lock file, stop services, WAIT
 *                                                 promote START: lock file, WAIT
 *   5. wait (blocking queries) for every WAIT, up to switchTimeout
 *   6. write the swapped document, CAS on i, "lock": true
 *   7. every flag → NULL
 *                                                 NULL with our lock file: converge to the
 *                                                 document (an active starts its services),
 *                                                 drop the lock file
 *   8. release the switch lock
 *
 * A timeout leaves the flags as they are (START/WAIT) and says which node did not answer;
 * `start-primary --abort` sets every flag back to NULL (the document was not written, so each
 * node converges back to its old role), and a re-run sets START again where needed.
 */
import { sameDoc, withRoles } from "../cluster/doc.ts";
import { compileFilter } from "../cluster/role.ts";
import { casClusterDoc, IdentityCache, resolveCluster } from "../cluster/resolve.ts";
import type { Ctx } from "../context.ts";
import type { KvEntry } from "../consul/client.ts";
import { describeError } from "../errors.ts";
import { Exit } from "../exit_codes.ts";
import type { Logger } from "../log.ts";
import { createLockFile, readLockRecord, removeLockFile } from "../sys/lockfile.ts";
import { converge, lockRecord, readStates, type Say } from "./actions.ts";
import {
  flagKey,
  type FlagKind,
  flagPrefix,
  flagsFromEntries,
  type FlagValue,
  normaliseFlag,
  parseFlagInput,
  parseFlagKey,
  parseSwitchHolder,
  type Participant,
  pendingFlags,
  planHandler,
  planSwitch,
  type ServiceArgs,
  switchKey,
} from "./plan.ts";

/** Session TTL of the switch lock; renewed every third of it while start-primary runs. */
const SWITCH_TTL_S = 15;

interface SwitchLock {
  release(): Promise<void>;
}

/**
 * Take the switch lock: a Consul session (TTL, renewed while we run, lock-delay 0, "delete" so a
 * crashed initiator's key vanishes within 2×TTL) acquiring `<servicePrefix>/<svc>/.switch`.
 * Returns a sentence naming the holder when another start-primary has it.
 */
async function takeSwitchLock(
  ctx: Ctx,
  key: string,
  node: string,
  what: string,
): Promise<SwitchLock | string> {
  const consul = ctx.consul;
  const sid = await consul.sessionCreate({
    name: `powerconsul ${what} on ${node}`,
    ttl: `${SWITCH_TTL_S}s`,
    behavior: "delete",
    lockDelay: "0s",
  });
  const value = JSON.stringify({ node, pid: Deno.pid, action: what, at: new Date().toISOString() });
  let got = false;
  try {
    got = await consul.kvPut(key, value, { acquire: sid });
  } finally {
    if (!got) await consul.sessionDestroy(sid).catch(() => false);
  }
  if (!got) {
    const holder = await consul.kvGet(key).catch(() => null);
    if (holder === null || !holder.session) {
      return `another switch held ${key} and has just finished; check 'powerconsul status' ` +
        `and re-run if the switch is still wanted`;
    }
    const h = parseSwitchHolder(holder.value);
    const who = h
      ? `${h.action} on ${h.node} (pid ${h.pid ?? "?"}, since ${h.at})`
      : "another operator";
    return `another switch holds ${key}: ${who}; wait for it to finish (or time out)`;
  }
  const timer = setInterval(() => {
    consul.sessionRenew(sid).catch(() => {});
  }, (SWITCH_TTL_S * 1000) / 3);
  return {
    async release() {
      clearInterval(timer);
      try {
        const cur = await consul.kvGet(key);
        if (cur?.session === sid) await consul.kvDelete(key, { cas: cur.modifyIndex });
      } catch { /* the session's end removes it */ }
      await consul.sessionDestroy(sid).catch(() => false);
    },
  };
}

async function readFlags(
  ctx: Ctx,
  prefix: string,
  opts: { dc?: string; index?: number; wait?: string } = {},
) {
  const { entries, index } = await ctx.consul.kvList(prefix, opts);
  return { entries, index, flags: flagsFromEntries(prefix, entries) };
}

/** Every powerconsul flag under the prefix (also nodes outside this plan). */
function flagEntries(prefix: string, entries: KvEntry[]): KvEntry[] {
  return entries.filter((e) => parseFlagKey(prefix, e.key) !== null);
}

/**
 * Set every flag in one datacenter's KV that is not NULL back to NULL, one line each (`dcTag`
 * names the datacenter in the lines when it is not the local one).
 */
async function resetFlags(
  ctx: Ctx,
  prefix: string,
  dc: string,
  dcTag: string,
  say: Say,
  only?: Set<string>,
): Promise<{ ok: boolean; changed: number }> {
  let entries: KvEntry[];
  try {
    entries = (await readFlags(ctx, prefix, { dc })).entries;
  } catch (err) {
    say(`flags in ${dc}: FAILED (${describeError(err)})`, "error");
    return { ok: false, changed: 0 };
  }
  let ok = true;
  let changed = 0;
  for (const e of flagEntries(prefix, entries)) {
    const node = parseFlagKey(prefix, e.key)!.node;
    if (only && !only.has(node)) continue;
    const v = normaliseFlag(e.value);
    if (v === "NULL") continue;
    const what = `${e.key.slice(prefix.length).replace("/", " ")} ${v} → NULL${dcTag}`;
    try {
      await ctx.consul.kvPut(e.key, "NULL", { dc });
      changed++;
      say(`${what}: ok`);
    } catch (err) {
      ok = false;
      say(`${what}: FAILED (${describeError(err)})`, "error");
    }
  }
  return { ok, changed };
}

export async function startPrimary(
  ctx: Ctx,
  a: ServiceArgs,
  say: Say,
  log: Logger,
  dropRun: () => void,
): Promise<number> {
  const cfg = ctx.config;
  const consul = ctx.consul;
  const id = new IdentityCache(consul, cfg);
  const prefix = flagPrefix(cfg.servicePrefix, a.consulService);
  const lockKey = switchKey(cfg.servicePrefix, a.consulService);
  const dry = ctx.flags.dryRun;
  const here = await id.datacenter();
  const tag = (dc: string) => dc === here ? "" : ` (${dc})`;

  if (a.abort) {
    // Flags live in the KV of each participant's datacenter: clear them in every datacenter.
    const node = await id.node();
    const dcs = [here, ...(await consul.datacenters()).filter((d) => d !== here)];
    if (dry) {
      dropRun();
      let pending = 0;
      for (const dc of dcs) {
        const { entries } = await readFlags(ctx, prefix, { dc });
        for (const e of flagEntries(prefix, entries)) {
          if (normaliseFlag(e.value) === "NULL") continue;
          pending++;
          say(`would set ${e.key}${tag(dc)} (${normaliseFlag(e.value)}) to NULL`);
        }
      }
      if (pending === 0) say("nothing to abort: every flag is NULL");
      return Exit.OK;
    }
    const lock = await takeSwitchLock(ctx, lockKey, node, "start-primary --abort");
    if (typeof lock === "string") {
      say(`switch lock ${lockKey}: FAILED (${lock})`, "error");
      return Exit.FAILED;
    }
    try {
      say(`switch lock ${lockKey}: ok`);
      let ok = true;
      let changed = 0;
      for (const dc of dcs) {
        const r = await resetFlags(ctx, prefix, dc, tag(dc), say);
        ok &&= r.ok;
        changed += r.changed;
      }
      if (changed === 0 && ok) say("flags: ok (every flag was already NULL)");
      say(
        `start-primary --abort: ${ok ? "ok" : "FAILED"} (cluster document unchanged; ` +
          `nodes that took part drop their lock files and return to their roles)`,
        ok ? "info" : "error",
      );
      return ok ? Exit.OK : Exit.FAILED;
    } finally {
      await lock.release();
    }
  }

  // 1. Where this node stands; unknown state throws (exit 3) before anything is written.
  const view = await resolveCluster(consul, cfg, a.consulService, id);
  // Each participant's flag lives in its own datacenter's KV: find every instance's datacenter.
  let instances: { node: string; datacenter: string }[] = [];
  if (view.placement.kind === "standby") {
    const filter = compileFilter(cfg.serviceFilter);
    const dcs = await consul.datacenters();
    const all = await Promise.all(dcs.map((dc) => consul.serviceHealth(a.consulService, { dc })));
    instances = all.flat().filter((i) => !filter || filter.test(i.node));
  }
  const plan = planSwitch(
    view.doc,
    view.placement,
    view.node,
    (pattern, roles) => withRoles(view.doc!, pattern, roles, true),
    instances,
    here,
  );
  if (typeof plan === "string") {
    say(`start-primary: refused: ${plan}`, "warn");
    return Exit.FAILED;
  }
  const group = plan.pattern === undefined ? "" : ` (filter "${plan.pattern}")`;
  const spec = view.placement.kind === "standby" ? view.placement.group.spec : null;
  const roles = spec?.mode === "datacenters"
    ? `active datacenter ${spec.active} (${plan.demote.join(",") || "no instance"}); ` +
      `standby datacenter ${spec.standby} (${plan.promote.join(",")})`
    : `active ${plan.demote.join(",") || "-"}; standby ${plan.promote.join(",")}`;
  say(`cluster document ${view.key}${group}: ok (index ${view.entry!.modifyIndex}; ${roles})`);
  const expected = plan.participants;
  const nodes = new Set(expected.map((p) => p.node));
  const keyOf = (p: Participant) => flagKey(cfg.servicePrefix, a.consulService, p.node, p.kind);
  if (dry) {
    dropRun();
    say(`would take the switch lock ${lockKey}`);
    for (const e of expected) say(`would set ${keyOf(e)}${tag(e.datacenter)} = START`);
    say(`would wait up to ${cfg.switchTimeout}s for every flag to be WAIT`);
    say(`would write ${view.key} = ${JSON.stringify(plan.next)} (cas ${view.entry!.modifyIndex})`);
    say(`would set every flag of ${[...nodes].join(",")} to NULL`);
    return Exit.OK;
  }

  // 2. One switch at a time (start-primary runs in the standby datacenter, so one lock there
  //    serialises every operator of this service).
  const lock = await takeSwitchLock(ctx, lockKey, view.node, "start-primary");
  if (typeof lock === "string") {
    say(`switch lock ${lockKey}: FAILED (${lock})`, "error");
    return Exit.FAILED;
  }
  const started = performance.now();
  try {
    say(`switch lock ${lockKey}: ok`);

    // 3. Missing flags → NULL (create-only, so a concurrent value is never overwritten).
    let created = 0;
    for (const e of expected) {
      for (const kind of ["promote", "demote"] as const) {
        const key = keyOf({ ...e, kind });
        if (await consul.kvPut(key, "NULL", { cas: 0, dc: e.datacenter })) created++;
      }
    }
    say(`flags under ${prefix}: ok (${created} created as NULL)`);

    // 4. START for every participant (a flag already START is left alone: no watch would fire).
    for (const e of expected) {
      const cur = normaliseFlag((await consul.kvGet(keyOf(e), { dc: e.datacenter }))?.value);
      if (cur !== "START") await consul.kvPut(keyOf(e), "START", { dc: e.datacenter });
      say(
        `${e.node} ${e.kind}=START${tag(e.datacenter)}: ok${
          cur === "START" ? " (was already START)" : ""
        }`,
      );
    }

    // 5. Wait for every WAIT: one blocking query per datacenter on the flag prefix.
    const deadline = Date.now() + cfg.switchTimeout * 1000;
    const waitDc = async (dc: string) => {
      const mine = expected.filter((e) => e.datacenter === dc);
      const answered = new Set<string>();
      let index = 0;
      while (true) {
        const left = deadline - Date.now();
        const blocking = index > 0 && left > 0;
        const r = await readFlags(
          ctx,
          prefix,
          blocking ? { dc, index, wait: `${Math.max(1, Math.ceil(left / 1000))}s` } : { dc },
        );
        const { waiting, failed } = pendingFlags(mine, r.flags);
        for (const e of mine) {
          const t = `${e.node}/${e.kind}`;
          if (answered.has(t) || waiting.some((w) => w.node === e.node && w.kind === e.kind)) {
            continue;
          }
          answered.add(t);
          const v: FlagValue = r.flags.get(e.node)?.[e.kind] ?? "NULL";
          const secs = ((performance.now() - started) / 1000).toFixed(1);
          say(
            v === "WAIT"
              ? `${e.node} ${e.kind}: WAIT ok (${secs}s)`
              : `${e.node} ${e.kind}: FAILED (the node reported it could not ${e.kind}; ` +
                `see its service/${a.name}.log)`,
            v === "WAIT" ? "info" : "error",
          );
        }
        if (failed.length > 0 || waiting.length === 0 || Date.now() >= deadline) {
          return { waiting, failed };
        }
        index = r.index < index ? 0 : Math.max(r.index, 1);
      }
    };
    const results = await Promise.all(plan.datacenters.map(waitDc));
    const waiting = results.flatMap((r) => r.waiting);
    const failed = results.flatMap((r) => r.failed);
    if (failed.length > 0) {
      say(
        `start-primary: FAILED (${
          failed.map((f) => `${f.node} ${f.kind}`).join(", ")
        } failed); cluster document unchanged. Run 'service ${a.name} start-primary --abort' ` +
          `to return every flag to NULL, or fix the node and re-run start-primary`,
        "error",
      );
      return Exit.FAILED;
    }
    if (waiting.length > 0) {
      const names = [...new Set(waiting.map((w) => w.node))];
      say(
        `waiting for WAIT: FAILED (no answer after ${cfg.switchTimeout}s from ${
          waiting.map((w) => `${w.node} (${w.kind})`).join(", ")
        })`,
        "error",
      );
      say(
        `start-primary: FAILED (${names.join(", ")} did not answer); cluster document ` +
          `unchanged, flags left as they are. Run 'service ${a.name} start-primary --abort' ` +
          `to return every flag to NULL, or re-run start-primary once ${names.join(", ")} ${
            names.length > 1 ? "are" : "is"
          } back`,
        "error",
      );
      return Exit.FAILED;
    }

    // 6. The swapped document, check-and-set on the index read in step 1 (then copied to the
    //    other datacenters whose copy still matches what was read).
    const out = await casClusterDoc(consul, view, plan.next, id);
    log.info(`document write: ${out.notes.join("; ")}`);
    const resetAll = async (sayFlag: Say) => {
      let ok = true;
      let changed = 0;
      for (const dc of plan.datacenters) {
        const r = await resetFlags(ctx, prefix, dc, tag(dc), sayFlag, nodes);
        ok &&= r.ok;
        changed += r.changed;
      }
      return { ok, changed };
    };
    if (!out.won) {
      say(`cluster document ${view.key}: FAILED (${out.notes[0]})`, "error");
      // Nothing was switched: NULL sends every participant back to the document's roles.
      const r = await resetAll(say);
      say(
        `start-primary: FAILED (the document changed while switching; flags reset ` +
          `${r.ok ? "ok" : "FAILED"}); read 'powerconsul status' and re-run if still wanted`,
        "error",
      );
      return Exit.FAILED;
    }
    const copies = out.notes.slice(1).filter((n) => !/already up to date/.test(n));
    say(
      `cluster document ${view.key}: ok (${
        plan.mode === "nodes"
          ? `active ${plan.promote.join(",")}; standby ${plan.demote.join(",") || "-"}`
          : `active datacenter ${spec?.mode === "datacenters" ? spec.standby : "?"}`
      }; locked)${copies.length ? `; ${copies.join("; ")}` : ""}`,
    );

    // Participants in other datacenters converge to their own datacenter's copy: it must say
    // the same before the flags go back to NULL, or the old actives there would start again.
    const stale: string[] = [];
    for (const dc of plan.datacenters.filter((d) => d !== here)) {
      try {
        const theirs = await consul.kvGet(view.key!, { dc });
        let same = false;
        try {
          same = sameDoc(JSON.parse(theirs?.value ?? ""), plan.next);
        } catch { /* not JSON: not the same */ }
        if (!same) stale.push(`${dc}'s copy is not the new document`);
      } catch (e) {
        stale.push(`${dc}: ${describeError(e)}`);
      }
    }
    if (stale.length > 0) {
      say(`cluster document in other datacenters: FAILED (${stale.join("; ")})`, "error");
      say(
        `start-primary: FAILED (switched in ${here} only); flags left as they are (the old ` +
          `actives are stopped and keep their lock files). Write the same document in every ` +
          `datacenter, then run 'service ${a.name} start-primary --abort' so every node ` +
          `converges to it`,
        "error",
      );
      return Exit.FAILED;
    }

    // 7. Flags → NULL: the promoted nodes start their services, everyone drops the lock file.
    const r = await resetAll(() => {});
    say(`flags reset to NULL: ${r.ok ? "ok" : "FAILED"} (${r.changed} changed)`);
    if (!r.ok) {
      say(
        `start-primary: FAILED (the document is switched but some flags are not NULL); run ` +
          `'service ${a.name} start-primary --abort' to finish`,
        "error",
      );
      return Exit.FAILED;
    }
    const secs = ((performance.now() - started) / 1000).toFixed(1);
    say(
      `start-primary: ok in ${secs}s (${plan.promote.join(",")} active; the lock clears when ` +
        `a standby check sees the new actives passing)`,
    );
    return Exit.OK;
  } catch (e) {
    say(
      `start-primary: FAILED (${describeError(e)}); run 'powerconsul status -S ` +
        `${a.consulService}' to see where it stopped, then 'service ${a.name} start-primary ` +
        `--abort' (or re-run start-primary)`,
      "error",
    );
    return Exit.FAILED;
  } finally {
    await lock.release();
  }
}

/** The key-watch handler for this node's promote or demote flag. */
export async function handleFlag(
  ctx: Ctx,
  a: ServiceArgs,
  kind: FlagKind,
  say: Say,
  dropRun: () => void,
): Promise<number> {
  const cfg = ctx.config;
  const id = new IdentityCache(ctx.consul, cfg);
  const node = await id.node();
  const key = flagKey(cfg.servicePrefix, a.consulService, node, kind);
  const stdin = await ctx.io.readStdin();
  let input = stdin === null ? null : parseFlagInput(stdin);
  if (input?.key && input.key !== key) {
    say(
      `${kind}: FAILED (the watch is on ${input.key}, but this node's flag is ${key}; ` +
        `fix the watch definition)`,
      "error",
    );
    return Exit.FAILED;
  }
  // Run by hand (no watch input): read the flag itself.
  if (input === null) input = { key, value: normaliseFlag((await ctx.consul.kvGet(key))?.value) };
  const lock = await readLockRecord(a.lockFile);
  const hp = planHandler(kind, input.value, lock.record, a.consulService);
  const dry = ctx.flags.dryRun;

  if (hp.op === "nothing") {
    say(`${kind}: nothing to do (${hp.why})`);
    return Exit.OK;
  }

  if (hp.op === "prepare") {
    if (dry) {
      const states = await readStates(ctx, a.services);
      dropRun();
      say(`${kind}: would create lock file ${a.lockFile}`);
      if (kind === "demote") {
        await converge(ctx, "stop", a.services, say, { dryRun: true, states });
      }
      say(`${kind}: would set ${key} = WAIT`);
      return Exit.OK;
    }
    // A switch lock file has no holder process: the switch protocol (NULL, --abort) clears it.
    const mine = (r: typeof lock.record) =>
      r !== null && r.action === kind && r.consulService === a.consulService;
    let ok = true;
    if (!(lock.inspection.state === "honoured" && mine(lock.record))) {
      const made = await createLockFile(
        a.lockFile,
        lockRecord(kind, a.name, a.consulService, null),
      );
      if (!made.created) {
        say(`lock file ${a.lockFile}: FAILED (${made.existing.note || "exists"})`, "error");
        ok = false;
      }
    }
    if (ok) say(`lock file ${a.lockFile}: ok`);
    if (ok && kind === "demote") ok = await converge(ctx, "stop", a.services, say);
    // Answer only if the flag is still START: an --abort in between must not be overwritten.
    const cur = await ctx.consul.kvGet(key);
    if (normaliseFlag(cur?.value) !== "START") {
      say(`${kind}: flag changed to ${normaliseFlag(cur?.value)} meanwhile: not answering`, "warn");
      return Exit.OK;
    }
    const answer = ok ? "WAIT" : "FAILED";
    const written = await ctx.consul.kvPut(key, answer, { cas: cur!.modifyIndex });
    say(
      `${key} = ${answer}: ${written ? "ok" : "FAILED (flag changed meanwhile)"}`,
      ok && written ? "info" : "error",
    );
    return ok && written ? Exit.OK : Exit.FAILED;
  }

  // finish: converge to the document, then drop the lock file. Unknown state → keep the lock
  // (checks keep passing, nothing acts) and fail; the next watch fire retries.
  let view;
  try {
    view = await resolveCluster(ctx.consul, cfg, a.consulService, id);
  } catch (e) {
    say(`${kind}: FAILED (cluster state unknown: ${describeError(e)}); lock file kept`, "error");
    return Exit.UNKNOWN;
  }
  const active = view.placement.kind !== "standby";
  if (dry) {
    const states = await readStates(ctx, a.services);
    dropRun();
    if (active) await converge(ctx, "start", a.services, say, { dryRun: true, states });
    say(`${kind}: would remove lock file ${a.lockFile}`);
    return Exit.OK;
  }
  let ok = true;
  if (active) {
    say(`${kind}: this node is active (${view.decision.reason}): starting services`);
    ok = await converge(ctx, "start", a.services, say);
  } else {
    say(`${kind}: this node is a standby (${view.placement.reason}): services stay stopped`);
  }
  await removeLockFile(a.lockFile);
  say(`lock file ${a.lockFile} removed: ok`);
  return ok ? Exit.OK : Exit.FAILED;
}
