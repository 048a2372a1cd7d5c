/**
 * The executor's effects for a switch: the switch lock, waiting for every node's answer, and
 * the cluster document write. The waiting is blocking reads of the role keys' prefix, one
 * datacenter at a time in parallel, bounded by the step's timeout on an injected clock.
 */
import type { Effects } from "../plan/apply.ts";
import type { AwaitKeysStep, ClusterDocStep, SwitchLockStep } from "../plan/step.ts";
import { type HeldSwitchLock, type SessionKv, takeSwitchLock } from "./switch_lock.ts";

/** Listing a prefix, optionally blocking until its index passes `index` (at most `wait`). */
export interface ListKv {
  kvList(
    prefix: string,
    opts: { dc?: string; index?: number; wait?: string },
  ): Promise<{ entries: { key: string; value: string | null }[]; index: number }>;
}

/** The longest common prefix of the keys that ends with "/". */
export function commonPrefix(keys: string[]): string {
  if (keys.length === 0) return "";
  let p = keys[0]!;
  for (const k of keys) while (!k.startsWith(p)) p = p.slice(0, -1);
  return p.slice(0, p.lastIndexOf("/") + 1);
}

const norm = (v: string | null | undefined) => (v ?? "").trim().toUpperCase();

/**
 * Wait until every key of the step holds its value; `onAnswer` hears each key as it answers
 * (the value, and the milliseconds since the wait began).
 */
export async function awaitKeys(
  kv: ListKv,
  step: AwaitKeysStep,
  now: () => number,
  onAnswer: (key: string, value: string, ms: number) => void = () => {},
): Promise<{ silent: string[]; failed: string[] }> {
  const started = now();
  const deadline = started + step.timeoutMs;
  const want = norm(step.value);
  const fail = step.failValue === undefined ? null : norm(step.failValue);
  const byDc = new Map<string | undefined, string[]>();
  for (const k of step.keys) byDc.set(k.dc, [...(byDc.get(k.dc) ?? []), k.key]);
  const one = async (dc: string | undefined, keys: string[]) => {
    const prefix = commonPrefix(keys);
    const answered = new Set<string>();
    let index = 0;
    while (true) {
      const left = deadline - now();
      const opts: { dc?: string; index?: number; wait?: string } = {};
      if (dc !== undefined) opts.dc = dc;
      if (index > 0 && left > 0) {
        opts.index = index;
        opts.wait = `${Math.max(1, Math.ceil(left / 1000))}s`;
      }
      const r = await kv.kvList(prefix, opts);
      const values = new Map(r.entries.map((e) => [e.key, norm(e.value)]));
      for (const k of keys) {
        const v = values.get(k) ?? "";
        if (!answered.has(k) && (v === want || v === fail)) {
          answered.add(k);
          onAnswer(k, v, now() - started);
        }
      }
      const failed = keys.filter((k) => fail !== null && values.get(k) === fail);
      const silent = keys.filter((k) => values.get(k) !== want && !failed.includes(k));
      if (failed.length > 0 || silent.length === 0 || now() >= deadline) return { silent, failed };
      index = r.index < index ? 0 : Math.max(r.index, 1);
    }
  };
  const results = await Promise.all([...byDc].map(([dc, keys]) => one(dc, keys)));
  return {
    silent: results.flatMap((r) => r.silent),
    failed: results.flatMap((r) => r.failed),
  };
}

export interface SwitchEffectDeps {
  kv: SessionKv & ListKv;
  /** This node's name, for the switch lock's holder. */
  node: string;
  now: () => number;
  onAnswer?: (key: string, value: string, ms: number) => void;
  clusterDoc(step: ClusterDocStep): Promise<{ won: boolean; notes: string[] }>;
}

/** Effects for switch-lock, await-keys and cluster-doc steps. */
export function switchEffects(
  d: SwitchEffectDeps,
): Required<Pick<Effects, "switchLock" | "awaitKeys" | "clusterDoc">> {
  const held = new Map<string, HeldSwitchLock>();
  return {
    async switchLock(step: SwitchLockStep) {
      if (step.op === "take") {
        held.set(
          step.key,
          await takeSwitchLock(d.kv, step.key, { action: step.holder, node: d.node }),
        );
        return;
      }
      const lock = held.get(step.key);
      held.delete(step.key);
      await lock?.release();
    },
    awaitKeys: (step) => awaitKeys(d.kv, step, d.now, d.onAnswer),
    clusterDoc: (step) => d.clusterDoc(step),
  };
}
