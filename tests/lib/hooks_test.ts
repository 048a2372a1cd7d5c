import assert from "node:assert/strict";
import { ROOT_ONLY } from "../_support/root.ts";
import { join } from "node:path";
import {
  hookStep,
  noticeFence,
  noticeRole,
  rememberRole,
  type RoleChange,
  roleEvent,
  runRoleHook,
} from "../../lib/hooks.ts";
import { makeDenoRunner } from "../../lib/sys/runner.ts";
import { waitFor } from "../harness/consul.ts";

/** Whether a process runs (a zombie waiting for its parent counts as gone). */
async function alive(pid: number): Promise<boolean> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => null);
  return stat !== null && !/^\d+ \(.*\) Z /.test(stat);
}

const change: RoleChange = {
  service: "web",
  event: "promoted",
  oldRole: "secondary",
  newRole: "primary",
  reason: "no active passing",
  node: "n3",
};

Deno.test("roleEvent(): to primary is promoted, from primary demoted; first sight is none", () => {
  assert.equal(roleEvent(null, "primary"), null);
  assert.equal(roleEvent("primary", "primary"), null);
  assert.equal(roleEvent("secondary", "primary"), "promoted");
  assert.equal(roleEvent("standalone", "primary"), "promoted");
  assert.equal(roleEvent("primary", "secondary"), "demoted");
  assert.equal(roleEvent("secondary", "standalone"), null);
});

Deno.test("hookStep(): the configured argv + service, old, new, reason; env; triggerTimeout", () => {
  assert.equal(hookStep({ roleHook: [], triggerTimeout: 5 }, change), null);
  const s = hookStep({ roleHook: ["/usr/local/bin/lb", "--quiet"], triggerTimeout: 5 }, change)!;
  assert.deepEqual(s.argv, [
    "/usr/local/bin/lb",
    "--quiet",
    "web",
    "secondary",
    "primary",
    "no active passing",
  ]);
  assert.equal(s.timeoutMs, 5000);
  assert.equal(s.env?.POWERCONSUL_HOOK_EVENT, "promoted");
  assert.equal(s.env?.POWERCONSUL_HOOK_NEW_ROLE, "primary");
});

async function world(script: string, triggerTimeout = 10) {
  const dir = await Deno.makeTempDir({ prefix: "pc-hook-" });
  const out = join(dir, "out");
  const logs: string[] = [];
  const ctx = {
    config: { roleHook: ["/bin/sh", "-c", script, "hook"], triggerTimeout },
    runner: makeDenoRunner({}),
    log: {
      info: (m: string) => logs.push(`info ${m}`),
      warn: (m: string) => logs.push(`warn ${m}`),
    },
    dir,
  };
  return {
    dir,
    out,
    logs,
    ctx,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

Deno.test(
  "runRoleHook(): arguments and environment reach the hook; the lock is released",
  ROOT_ONLY,
  async () => {
    await using w = await world(
      `printf '%s|' "$@" "$POWERCONSUL_HOOK_SERVICE" "$POWERCONSUL_HOOK_EVENT" >> "$OUT"`,
    );
    w.ctx.config.roleHook = [
      "/usr/bin/env",
      `OUT=${w.out}`,
      ...w.ctx.config.roleHook,
    ];
    const r = await runRoleHook(w.ctx, change);
    assert.deepEqual(r, { ran: true, ok: true, detail: "ok" });
    assert.equal(
      await Deno.readTextFile(w.out),
      "web|secondary|primary|no active passing|web|promoted|",
    );
    await assert.rejects(Deno.stat(join(w.dir, "role-hook.lock")), Deno.errors.NotFound);
  },
);

Deno.test(
  "runRoleHook(): a failing or hanging hook is logged and returned, never thrown",
  ROOT_ONLY,
  async () => {
    await using f = await world("echo nope >&2; exit 7");
    const r = await runRoleHook(f.ctx, change);
    assert.equal(r.ok, false);
    assert.equal(r.detail, "exit 7");
    assert.ok(
      f.logs.some((l) =>
        /^warn role hook for web promoted failed \(exit 7\); the role change stands: nope$/.test(l)
      ),
      f.logs.join("\n"),
    );
    await using h = await world("sleep 30", 0.3);
    const t = await runRoleHook(h.ctx, change);
    assert.equal(t.ok, false);
    assert.equal(t.detail, "timed out");
  },
);

Deno.test(
  "runRoleHook(): hooks of one node take turns (never two at once)",
  ROOT_ONLY,
  async () => {
    await using w = await world(`echo "start $1" >> "$OUT"; sleep 0.2; echo "end $1" >> "$OUT"`);
    w.ctx.config.roleHook = ["/usr/bin/env", `OUT=${w.out}`, ...w.ctx.config.roleHook];
    await Promise.all(["a", "b", "c"].map((s) => runRoleHook(w.ctx, { ...change, service: s })));
    const lines = (await Deno.readTextFile(w.out)).trim().split("\n");
    assert.equal(lines.length, 6);
    for (let i = 0; i < 6; i += 2) {
      const name = lines[i]!.split(" ")[1];
      assert.deepEqual(
        [lines[i], lines[i + 1]],
        [`start ${name}`, `end ${name}`],
        lines.join("\n"),
      );
    }
  },
);

Deno.test(
  "noticeRole(): runs the hook once per change of this node's role, never the first time",
  ROOT_ONLY,
  async () => {
    await using w = await world(`echo "$2>$3" >> "$OUT"`);
    w.ctx.config.roleHook = ["/usr/bin/env", `OUT=${w.out}`, ...w.ctx.config.roleHook];
    const at = (role: string) => ({ service: "web", node: "n1", role, reason: "r" });
    assert.equal(await noticeRole(w.ctx, at("secondary")), null, "first sight");
    assert.equal(await noticeRole(w.ctx, at("secondary")), null, "unchanged");
    assert.equal((await noticeRole(w.ctx, at("primary")))?.ok, true);
    assert.equal(await noticeRole(w.ctx, at("primary")), null);
    assert.equal((await noticeRole(w.ctx, at("secondary")))?.ok, true);
    assert.equal(await Deno.readTextFile(w.out), "secondary>primary\nprimary>secondary\n");
    assert.equal(await noticeRole({ ...w.ctx, dryRun: true }, at("primary")), null, "dry run");
    assert.equal(await rememberRole(w.dir, "n1", "web", "secondary"), "secondary");
    assert.equal(await rememberRole(w.dir, "n2", "web", "primary"), null, "per node");
    await assert.rejects(rememberRole(w.dir, "n1", "../x", "primary"), /"\/"/);
  },
);

Deno.test(
  "noticeFence(): primary -> fenced with the reason; the memory says fenced, so a return is promoted",
  ROOT_ONLY,
  async () => {
    await using w = await world(`echo "$POWERCONSUL_HOOK_EVENT $1 $2>$3 $4" >> "$OUT"`);
    w.ctx.config.roleHook = ["/usr/bin/env", `OUT=${w.out}`, ...w.ctx.config.roleHook];
    const at = { service: "web", node: "n1" };
    assert.equal(await noticeRole(w.ctx, { ...at, role: "primary", reason: "r" }), null);
    const r = await noticeFence(w.ctx, { ...at, reason: "lease expired at T" });
    assert.deepEqual(r, { ran: true, ok: true, detail: "ok" });
    assert.equal((await noticeRole(w.ctx, { ...at, role: "primary", reason: "back" }))?.ok, true);
    assert.equal(
      await Deno.readTextFile(w.out),
      "fenced web primary>fenced lease expired at T\npromoted web fenced>primary back\n",
    );
    w.ctx.config.roleHook = [];
    assert.equal(await noticeFence(w.ctx, { ...at, reason: "x" }), null, "no hook, nothing");
  },
);

Deno.test(
  "noticeRole(): a hook that hangs is killed with its whole process group at triggerTimeout, logged in one line; the role change stands",
  ROOT_ONLY,
  async () => {
    // the hook leaves a child of its own behind in its group, then hangs
    await using w = await world(`sleep 300 & echo $! > "$OUT"; sleep 300`, 0.5);
    w.ctx.config.roleHook = ["/usr/bin/env", `OUT=${w.out}`, ...w.ctx.config.roleHook];
    const at = (role: string) => ({ service: "web", node: "n1", role, reason: "r" });
    await noticeRole(w.ctx, at("secondary"));
    const t0 = performance.now();
    const r = await noticeRole(w.ctx, at("primary"));
    assert.deepEqual(r, { ran: true, ok: false, detail: "timed out" });
    assert.ok(performance.now() - t0 < 10_000, "bounded by the timeout, not the hook");
    const child = Number((await Deno.readTextFile(w.out)).trim());
    assert.ok(child > 1);
    await waitFor("the hook's own child to be gone", async () => !(await alive(child)), {
      timeoutMs: 5000,
    });
    const warned = w.logs.filter((l) => l.startsWith("warn "));
    assert.deepEqual(warned, [
      "warn role hook for web promoted failed (timed out); the role change stands",
    ]);
    // the change stands: remembered as primary, the hook is not run again for it
    assert.equal(await noticeRole(w.ctx, at("primary")), null);
    assert.equal(await rememberRole(w.dir, "n1", "web", "primary"), "primary");
    await assert.rejects(Deno.stat(join(w.dir, "role-hook.lock")), Deno.errors.NotFound);
  },
);
