/**
 * start-primary, the initiator's side of a switch (the promote/demote side is handler.ts):
 *
 *   1. read the document (index i) and plan the swap (planSwitch)
 *   2. take the switch lock (switch_lock.ts)
 *   3. create missing role keys as NULL (create only: a concurrent value is never overwritten)
 *   4. promote=START for each standby, demote=START for each active
 *   5. wait (blocking reads, up to switchTimeout) until each of them is WAIT
 *   6. write the swapped document, checked on index i, with "lock": true
 *   7. every role key back to NULL: nodes converge to the new document, drop their lock files
 *   8. release the switch lock
 *
 * A timeout leaves the keys as they are and names the node that did not answer; --abort sets
 * every role key back to NULL (the document was not written, so each node converges back to
 * its old role). The steps come from switch_plan.ts; the executor performs them, or prints
 * them for --dry-run. Reads come through `InitiatorPorts`, so unit tests use fakes.
 */
import { docText, sameDoc, withRoles } from "../cluster/doc.ts";
import type { ClusterView } from "../cluster/view.ts";
import { Exit } from "../exit_codes.ts";
import type { Executor, Outcome } from "../plan/apply.ts";
import type { Say } from "./actions.ts";
import { planSwitch, roleKeyPrefix, type ServiceArgs, switchLockKey } from "./plan.ts";
import { SwitchLockHeld } from "./switch_lock.ts";
import { abortSteps, initiatorSteps, type KeyStep } from "./switch_plan.ts";
import { recordStep } from "../history/entry.ts";

export interface InitiatorPorts {
  view(): Promise<ClusterView>;
  node(): Promise<string>;
  /** The local datacenter. */
  here(): Promise<string>;
  datacenters(): Promise<string[]>;
  /** Every instance of the service in every datacenter (serviceFilter applied). */
  instances(): Promise<{ node: string; datacenter: string }[]>;
  kvGet(key: string, dc?: string): Promise<{ value: string | null } | null>;
  kvList(prefix: string, dc?: string): Promise<{ key: string; value: string | null }[]>;
  now(): number;
  describeError(e: unknown): string;
}

export interface SwitchSettings {
  servicePrefix: string;
  switchTimeout: number;
}

const tagFor = (here: string) => (dc: string | undefined) =>
  dc === undefined || dc === here ? "" : ` (${dc})`;

/** Apply key steps, one line each; whether all succeeded and how many changed. */
async function applyKeys(
  ex: Executor,
  steps: KeyStep[],
  say: Say | null,
  tag: (dc?: string) => string,
) {
  let ok = true;
  let changed = 0;
  for (const k of steps) {
    const o = await ex.apply(k.step);
    if (o.ok) changed++;
    else ok = false;
    if (say && !ex.dryRun) {
      const what = `${k.node} ${k.kind} ${k.was} → NULL${tag(k.step.dc)}`;
      say(`${what}: ${o.ok ? "ok" : `FAILED (${o.detail})`}`, o.ok ? "info" : "error");
    }
  }
  return { ok, changed };
}

/** Another switch holds the lock: refused (exit 1). Any other error is unknown state: it escapes. */
function refusedLock(o: Outcome, key: string, say: Say): number {
  if (o.error !== undefined && !(o.error instanceof SwitchLockHeld)) throw o.error;
  say(`switch lock ${key}: FAILED (${o.detail})`, "error");
  return Exit.FAILED;
}

export async function startPrimaryAbort(
  ports: InitiatorPorts,
  ex: Executor,
  set: SwitchSettings,
  a: ServiceArgs,
  say: Say,
): Promise<number> {
  const prefix = roleKeyPrefix(set.servicePrefix, a.consulService);
  const lockKey = switchLockKey(set.servicePrefix, a.consulService);
  const here = await ports.here();
  const tag = tagFor(here);
  // Role keys live in the KV of each participant's datacenter: clear them in every one.
  const dcs = [here, ...(await ports.datacenters()).filter((d) => d !== here)];
  const read = async () => {
    const out: { dc: string; entries: { key: string; value: string | null }[] }[] = [];
    for (const dc of dcs) out.push({ dc, entries: await ports.kvList(prefix, dc) });
    return out;
  };
  const lockOf = (op: "take" | "release") => ({
    kind: "switch-lock" as const,
    op,
    key: lockKey,
    holder: "start-primary --abort",
  });
  // History: the abort is recorded (no document change) once its flags are reset.
  const record = recordStep(set, {
    service: a.consulService,
    node: await ports.node(),
    action: "abort",
    reason: "start-primary --abort: every promote/demote flag reset to NULL",
  });
  if (ex.dryRun) {
    const plan = abortSteps(prefix, here, await read());
    if (plan.length === 0) {
      ex.seal();
      say("nothing to abort: every role key is NULL");
      return Exit.OK;
    }
    await ex.applyAll([lockOf("take"), ...plan.map((k) => k.step), record, lockOf("release")]);
    return Exit.OK;
  }
  const taken = await ex.apply(lockOf("take"));
  if (!taken.ok) return refusedLock(taken, lockKey, say);
  try {
    say(`switch lock ${lockKey}: ok`);
    let entries;
    try {
      entries = await read();
    } catch (e) {
      say(`role keys: FAILED (${ports.describeError(e)})`, "error");
      return Exit.FAILED;
    }
    const r = await applyKeys(ex, abortSteps(prefix, here, entries), say, tag);
    if (r.changed === 0 && r.ok) say("flags: ok (every flag was already NULL)");
    if (r.ok && r.changed > 0) {
      const h = await ex.apply(record);
      say(`history: ${h.ok ? "ok" : `not recorded (${h.detail})`}`, h.ok ? "info" : "warn");
    }
    say(
      `start-primary --abort: ${r.ok ? "ok" : "FAILED"} (cluster document unchanged; ` +
        `nodes that took part drop their lock files and return to their roles)`,
      r.ok ? "info" : "error",
    );
    return r.ok ? Exit.OK : Exit.FAILED;
  } finally {
    await ex.apply(lockOf("release"));
  }
}

export async function startPrimary(
  ports: InitiatorPorts,
  ex: Executor,
  set: SwitchSettings,
  a: ServiceArgs,
  say: Say,
): Promise<number> {
  const prefix = roleKeyPrefix(set.servicePrefix, a.consulService);
  const here = await ports.here();
  const tag = tagFor(here);
  // 1. Where this node stands; unknown state throws (exit 3) before anything is written.
  const view = await ports.view();
  const instances = view.placement.kind === "standby" ? await ports.instances() : [];
  const plan = planSwitch(
    view.doc,
    view.placement,
    view.node,
    (pattern, roles) => withRoles(view.doc!, pattern, roles, true),
    instances,
    here,
  );
  if (typeof plan === "string") {
    ex.seal();
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
  const st = initiatorSteps({
    servicePrefix: set.servicePrefix,
    consulService: a.consulService,
    here,
    plan,
    docKey: view.key!,
    docValue: docText(plan.next),
    cas: view.entry!.modifyIndex,
    timeoutMs: set.switchTimeout * 1000,
  });
  if (ex.dryRun) {
    await ex.applyAll([
      st.take,
      ...st.create.map((k) => k.step),
      ...st.start.map((k) => k.step),
      st.wait,
      st.doc,
      ...st.reset.map((k) => k.step),
      st.release,
    ]);
    return Exit.OK;
  }

  // 2. One switch at a time.
  const lockKey = st.take.key;
  const taken = await ex.apply(st.take);
  if (!taken.ok) return refusedLock(taken, lockKey, say);
  const started = ports.now();
  const abortHint = `Run 'service ${a.name} start-primary --abort' to return every flag to NULL`;
  try {
    say(`switch lock ${lockKey}: ok`);
    // 3. Missing role keys → NULL.
    let created = 0;
    for (const k of st.create) if ((await ex.apply(k.step)).ok) created++;
    say(`flags under ${prefix}: ok (${created} created as NULL)`);
    // 4. START for every participant.
    for (const k of st.start) {
      const o = await ex.apply(k.step);
      if (!o.ok) throw new Error(`${k.node} ${k.kind}=START: ${o.detail}`);
      say(`${k.node} ${k.kind}=START${tag(k.step.dc)}: ok`);
    }
    // 5. Every answer.
    const w = await ex.apply(st.wait);
    if (w.answers === undefined) throw new Error(w.detail);
    const nameOf = (key: string) => {
      const k = st.start.find((s) => s.step.key === key);
      return k ? `${k.node} ${k.kind}` : key;
    };
    if (w.answers.failed.length > 0) {
      say(
        `start-primary: FAILED (${w.answers.failed.map(nameOf).join(", ")} failed); cluster ` +
          `document unchanged. ${abortHint}, or fix the node and re-run start-primary`,
        "error",
      );
      return Exit.FAILED;
    }
    if (w.answers.silent.length > 0) {
      const silent = st.start.filter((s) => w.answers!.silent.includes(s.step.key));
      const names = [...new Set(silent.map((s) => s.node))];
      say(
        `waiting for WAIT: FAILED (no answer after ${set.switchTimeout}s from ${
          silent.map((s) => `${s.node} (${s.kind})`).join(", ")
        })`,
        "error",
      );
      say(
        `start-primary: FAILED (${names.join(", ")} did not answer); cluster document ` +
          `unchanged, flags left as they are. ${abortHint}, or re-run start-primary once ` +
          `${names.join(", ")} ${names.length > 1 ? "are" : "is"} back`,
        "error",
      );
      return Exit.FAILED;
    }
    // 6. The swapped document, checked on the index read in step 1.
    const d = await ex.apply(st.doc);
    const notes = d.notes ?? [d.detail];
    if (!d.ok) {
      say(`cluster document ${view.key}: FAILED (${notes[0]})`, "error");
      // Nothing was switched: NULL sends every participant back to the document's roles.
      const r = await applyKeys(ex, st.reset, say, tag);
      say(
        `start-primary: FAILED (the document changed while switching; flags reset ` +
          `${r.ok ? "ok" : "FAILED"}); read 'powerconsul status' and re-run if still wanted`,
        "error",
      );
      return Exit.FAILED;
    }
    const copies = notes.slice(1).filter((n) => !/already up to date/.test(n));
    say(
      `cluster document ${view.key}: ok (${
        plan.mode === "nodes"
          ? `active ${plan.promote.join(",")}; standby ${plan.demote.join(",") || "-"}`
          : `active datacenter ${spec?.mode === "datacenters" ? spec.standby : "?"}`
      }; locked)${copies.length ? `; ${copies.join("; ")}` : ""}`,
    );
    // Participants elsewhere converge to their own datacenter's copy: it must be the new
    // document before the keys go back to NULL, or the old actives there would start again.
    const stale: string[] = [];
    for (const dc of plan.datacenters.filter((x) => x !== here)) {
      try {
        const theirs = await ports.kvGet(view.key!, dc);
        let same = false;
        try {
          same = sameDoc(JSON.parse(theirs?.value ?? ""), plan.next);
        } catch { /* not JSON: not the same */ }
        if (!same) stale.push(`${dc}'s copy is not the new document`);
      } catch (e) {
        stale.push(`${dc}: ${ports.describeError(e)}`);
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
    // 7. Role keys → NULL: the promoted nodes start their services, everyone drops the lock file.
    const r = await applyKeys(ex, st.reset, null, tag);
    say(`flags reset to NULL: ${r.ok ? "ok" : "FAILED"} (${r.changed} changed)`);
    if (!r.ok) {
      say(
        `start-primary: FAILED (the document is switched but some flags are not NULL); run ` +
          `'service ${a.name} start-primary --abort' to finish`,
        "error",
      );
      return Exit.FAILED;
    }
    const secs = ((ports.now() - started) / 1000).toFixed(1);
    say(
      `start-primary: ok in ${secs}s (${plan.promote.join(",")} active; the lock clears when ` +
        `the new active's check passes)`,
    );
    return Exit.OK;
  } catch (e) {
    say(
      `start-primary: FAILED (${ports.describeError(e)}); run 'powerconsul status -S ` +
        `${a.consulService}' to see where it stopped, then 'service ${a.name} start-primary ` +
        `--abort' (or re-run start-primary)`,
      "error",
    );
    return Exit.FAILED;
  } finally {
    await ex.apply(st.release);
  }
}
