import assert from "node:assert/strict";
import { join } from "node:path";
import { command } from "../../cmd/config.ts";
import { runCommand } from "../../lib/command.ts";
import type { Io } from "../../lib/context.ts";
import { envFrom } from "../../lib/env.ts";

function fakeIo(env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    out: (t) => void out.push(t),
    err: (t) => void err.push(t),
    env: envFrom(env),
    readStdin: () => Promise.resolve(null),
    stdoutIsTty: false,
  };
  return { io, out, err };
}

Deno.test("config show: a key named after an Object member is an unknown key, never printed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "c.json");
    await Deno.writeTextFile(path, `{"toString": 1, "constructor": 2, "clusterKey": "c"}`);
    for (const output of ["text", "json"]) {
      const f = fakeIo();
      const code = await runCommand(command, ["show", "--config", path, "--output", output], f.io);
      assert.equal(code, 0);
      const text = f.out.join("");
      assert.doesNotMatch(text, /function|toString|constructor/, text);
      assert.match(f.err.join(""), /unknown key "toString"/);
      assert.match(f.err.join(""), /unknown key "constructor"/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config show: a named config that is missing fails; no other config is shown", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, ".powerconsul.conf"), `{"clusterKey": "fallback"}`);
    const missing = join(dir, "nope.json");
    const f = fakeIo({ HOME: dir, POWERCONSUL_CONFIG: missing });
    await assert.rejects(
      runCommand(command, ["show"], f.io),
      (e: unknown) => e instanceof Error && e.message.includes(missing),
    );
    assert.doesNotMatch(f.out.join(""), /fallback/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config bootstrap: a dry run prints the executor's step and writes nothing; a real run writes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "c.json");
    const text: string[] = [];
    const o: Io = {
      out: (t) => text.push(t),
      err: (t) => text.push(t),
      env: () => undefined,
      readStdin: () => Promise.resolve(null),
      stdoutIsTty: false,
    };
    const argv = ["bootstrap", "-C", '{"clusterKey":"c"}', "--config", path];
    assert.equal(await runCommand(command, [...argv, "--dry-run"], o), 0);
    assert.equal(
      text.join(""),
      `dry-run: would write ${path} (mode 0600):\n{\n  "clusterKey": "c"\n}\n`,
    );
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
    assert.equal(await runCommand(command, argv, o), 0);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(path)), { clusterKey: "c" });
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
