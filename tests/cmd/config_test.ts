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
