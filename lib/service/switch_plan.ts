/**
 * The steps of a switch, planned without I/O: what start-primary writes and waits for, in
 * order, and what --abort resets. The executor performs them or prints them for --dry-run, so
 * the dry run and the real run are the same list.
 */
import type { AwaitKeysStep, ClusterDocStep, FlagStep, SwitchLockStep } from "../plan/step.ts";
import {
  parseRoleKey,
  roleKey,
  roleKeyValue,
  type SwitchKind,
  switchLockKey,
  type SwitchPlan,
} from "./plan.ts";

/** A role-key write with what it is for the operator's line. */
export interface KeyStep {
  step: FlagStep;
  node: string;
  kind: SwitchKind;
  /** The value before (for reset lines). */
  was: string;
}

export interface InitiatorSteps {
  take: SwitchLockStep;
  create: KeyStep[];
  start: KeyStep[];
  wait: AwaitKeysStep;
  doc: ClusterDocStep;
  reset: KeyStep[];
  release: SwitchLockStep;
}

export function initiatorSteps(o: {
  servicePrefix: string;
  consulService: string;
  /** The local datacenter: keys there carry no dc. */
  here: string;
  plan: SwitchPlan;
  docKey: string;
  docValue: string;
  cas: number;
  timeoutMs: number;
}): InitiatorSteps {
  const lockKey = switchLockKey(o.servicePrefix, o.consulService);
  const keyStep = (
    p: { node: string; kind: SwitchKind; datacenter: string },
    value: string,
    was: string,
    createOnly = false,
  ): KeyStep => {
    const step: FlagStep = {
      kind: "flag",
      key: roleKey(o.servicePrefix, o.consulService, p.node, p.kind),
      value,
    };
    if (p.datacenter !== o.here) step.dc = p.datacenter;
    if (createOnly) step.createOnly = true;
    return { step, node: p.node, kind: p.kind, was };
  };
  const parts = o.plan.participants;
  return {
    take: { kind: "switch-lock", op: "take", key: lockKey, holder: "start-primary" },
    create: parts.flatMap((p) =>
      (["promote", "demote"] as const).map((kind) => keyStep({ ...p, kind }, "NULL", "", true))
    ),
    start: parts.map((p) => keyStep(p, "START", "NULL")),
    wait: {
      kind: "await-keys",
      keys: parts.map((p) => {
        const k = keyStep(p, "WAIT", "").step;
        return k.dc === undefined ? { key: k.key } : { key: k.key, dc: k.dc };
      }),
      value: "WAIT",
      failValue: "FAILED",
      timeoutMs: o.timeoutMs,
    },
    doc: {
      kind: "cluster-doc",
      key: o.docKey,
      value: o.docValue,
      cas: o.cas,
      why: "switch roles",
    },
    reset: parts.map((p) => keyStep(p, "NULL", "WAIT")),
    release: { kind: "switch-lock", op: "release", key: lockKey, holder: "start-primary" },
  };
}

/** --abort: every role key under the prefix that is not NULL, in each datacenter, to NULL. */
export function abortSteps(
  prefix: string,
  here: string,
  perDc: { dc: string; entries: { key: string; value: string | null }[] }[],
): KeyStep[] {
  const out: KeyStep[] = [];
  for (const { dc, entries } of perDc) {
    for (const e of entries) {
      const k = parseRoleKey(prefix, e.key);
      const was = roleKeyValue(e.value);
      if (!k || was === "NULL") continue;
      const step: FlagStep = { kind: "flag", key: e.key, value: "NULL" };
      if (dc !== here) step.dc = dc;
      out.push({ step, node: k.node, kind: k.kind, was });
    }
  }
  return out;
}

/** The line for one node's answer while start-primary waits. */
export function answerLine(
  prefix: string,
  name: string,
  key: string,
  value: string,
  ms: number,
): { line: string; ok: boolean } {
  const k = parseRoleKey(prefix, key);
  const who = k ? `${k.node} ${k.kind}` : key;
  return value === "WAIT" ? { line: `${who}: WAIT ok (${(ms / 1000).toFixed(1)}s)`, ok: true } : {
    line: `${who}: FAILED (the node reported it could not ${k?.kind ?? "answer"}; ` +
      `see its service/${name}.log)`,
    ok: false,
  };
}
