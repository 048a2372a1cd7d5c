/** Effects against the real world: the Consul client, the program runner, the file system. */
import type { ConsulClient } from "../consul/client.ts";
import type { WireService } from "../consul/types.ts";
import { removeFile, writeLease } from "../ha/lease.ts";
import { spawnGuard, stopGuard } from "../ha/guard_proc.ts";
import { createLockFile, removeLockFile, selfHolder } from "../sys/lockfile.ts";
import type { Runner } from "../sys/runner.ts";
import { writeRecorded } from "../history/txn.ts";
import type { Effects } from "./apply.ts";

export function liveEffects(consul: ConsulClient, runner: Runner): Effects {
  return {
    kvPut: (key, value, opts) => consul.kvPut(key, value, opts),
    recorded: (change, record) =>
      writeRecorded(
        { kvGet: (k) => consul.kvGet(k), txn: (ops) => consul.txn(ops) },
        change,
        record,
      ),
    kvDelete: (key, opts) => consul.kvDelete(key, opts),
    setTags: (s) => consul.setServiceTags(s.registration as WireService, s.tags),
    run: (s) => {
      const opts: Parameters<Runner["run"]>[1] = { timeoutMs: s.timeoutMs };
      if (s.stdin !== undefined) opts.stdin = s.stdin;
      if (s.env !== undefined) opts.env = s.env;
      return runner.run(s.argv, opts);
    },
    async lockFile(op, path, owner) {
      if (op === "remove") return await removeLockFile(path);
      const made = await createLockFile(path, {
        by: "powerconsul",
        action: owner?.action ?? "lock-file",
        name: owner?.name ?? "",
        consulService: owner?.consulService ?? "",
        holder: owner?.holder === "none" ? null : await selfHolder(),
        at: new Date().toISOString(),
      });
      if (!made.created) throw new Error(made.existing.note || `${path} exists`);
      return made.tookOver ? `taken over: ${made.tookOver.note}` : undefined;
    },
    sleep: (ms) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms))),
    async lease(s) {
      if (s.op === "remove") return await removeFile(s.path);
      if (!s.lease) throw new Error("a lease renewal without a lease");
      if (!(await writeLease(s.id, s.lease))) return "kept: the lease on file runs longer";
    },
    async guard(s) {
      if (s.op === "stop") return await stopGuard(s.id);
      const r = await spawnGuard(s.id, s.args ?? []);
      if ("error" in r) throw new Error(r.error);
      return `pid ${r.pid}`;
    },
  };
}
