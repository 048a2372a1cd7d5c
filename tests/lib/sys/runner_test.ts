// The process runner: process groups, timers, the token in children's environment.
import assert from "node:assert/strict";
import { denoRunner } from "../../../lib/sys/runner.ts";

/** Alive means present and not a zombie (a reaped-by-nobody zombie is already dead). */
function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

async function gone(pid: number, tries = 60): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

Deno.test("runner: a timeout ends the whole process group, a grandchild ignoring SIGTERM too", async () => {
  const pidFile = await Deno.makeTempFile();
  const script = `sh -c "trap '' TERM; echo \\$\\$ > ${pidFile}; exec sleep 60" & ` +
    `trap '' TERM; wait`;
  let grandchild = 0;
  try {
    const r = await denoRunner.run(["sh", "-c", script], { timeoutMs: 300 });
    assert.equal(r.timedOut, true);
    grandchild = Number((await Deno.readTextFile(pidFile)).trim());
    assert.ok(grandchild > 0, "the grandchild wrote its pid");
    assert.ok(await gone(grandchild), `grandchild ${grandchild} is left behind`);
  } finally {
    if (grandchild > 0 && alive(grandchild)) Deno.kill(grandchild, "SIGKILL");
    await Deno.remove(pidFile);
  }
});

Deno.test("runner: a finished run leaves no timer behind, so the process can end at once", async () => {
  // An unreferenced timer fires only while something else keeps the process alive.
  const runner = new URL("../../../lib/sys/runner.ts", import.meta.url).href;
  const code = `import { denoRunner, makeDenoRunner } from ${JSON.stringify(runner)};
    const r = await denoRunner.run(["/bin/true"], { timeoutMs: 5000 });
    Deno.unrefTimer(setTimeout(() => console.log("lingered"), 150));
    console.log("exit", r.code);`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", code],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "exit 0");
});

Deno.test("runner: children see the ACL token variables empty unless passToken is set", async () => {
  // In a process of its own: the environment is the whole test process's, and test files run
  // side by side in it (a token set here would reach every other file's children).
  const runner = new URL("../../../lib/sys/runner.ts", import.meta.url).href;
  const code = `import { denoRunner, makeDenoRunner } from ${JSON.stringify(runner)};
    const argv = ["sh", "-c", 'echo "[$CONSUL_HTTP_TOKEN][$CONSUL_HTTP_TOKEN_FILE]"'];
    const r = await denoRunner.run(argv, { timeoutMs: 5000 });
    const kept = await makeDenoRunner({ passToken: true }).run(argv, { timeoutMs: 5000 });
    console.log(JSON.stringify([r.stdout.trim(), kept.stdout.trim()]));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", code],
    env: { CONSUL_HTTP_TOKEN: "s3cret-token", CONSUL_HTTP_TOKEN_FILE: "/etc/powerconsul/token" },
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), [
    "[][]",
    "[s3cret-token][/etc/powerconsul/token]",
  ]);
});

Deno.test("runner: a child runs in a process group of its own", async () => {
  const r = await denoRunner.run(["sh", "-c", "ps -o pid=,pgid= -p $$"], { timeoutMs: 5000 });
  const [pid, pgid] = r.stdout.trim().split(/\s+/);
  assert.equal(pid, pgid);
});
