// What `config check` verifies of the sandbox (here with every permission granted: the lines
// the write probe and the connection decide).
import assert from "node:assert/strict";
import { join } from "node:path";
import type { LoadedConfig } from "../../lib/config.ts";
import { sandboxLines } from "../../lib/config_check.ts";
import { envFrom } from "../../lib/env.ts";
import { config } from "../_support/cluster.ts";

const loaded = (logDir: string, path: string | null = null): LoadedConfig =>
  ({ config: config({ logDir }), path, sources: {}, warnings: [] }) as unknown as LoadedConfig;

Deno.test("sandboxLines(): the log root is really written; each named file and lock dir checked", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lines = sandboxLines({
      loaded: loaded(join(dir, "log"), join(dir, "c.json")),
      conn: { baseUrl: "https://127.0.0.1:8501", tokenSource: "none", tls: {} },
      env: envFrom({ CONSUL_CACERT: join(dir, "ca.pem") }),
      lockDirs: ["/run/powerconsul"],
    });
    assert.deepEqual(lines, [
      { ok: true, what: `config ${join(dir, "c.json")} is readable by the binary` },
      { ok: true, what: `logDir ${join(dir, "log")} is writable` },
      { ok: true, what: `CONSUL_CACERT ${join(dir, "ca.pem")} is readable by the binary` },
      { ok: true, what: "lock directory /run/powerconsul is writable by the binary" },
    ]);
    assert.deepEqual([...Deno.readDirSync(join(dir, "log"))], [], "the probe file is removed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sandboxLines(): a log root that cannot be written fails; --token gets a note", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "not-a-dir");
    await Deno.writeTextFile(file, "");
    const lines = sandboxLines({
      loaded: loaded(join(file, "log")),
      conn: { baseUrl: "http://127.0.0.1:8500", tokenSource: "flag", token: "x" },
      env: envFrom({}),
      lockDirs: [],
    });
    assert.equal(lines.length, 2);
    assert.equal(lines[0]!.ok, false);
    assert.match(lines[0]!.what, new RegExp(`^logDir ${file}/log cannot be written: `));
    assert.equal(lines[1]!.ok, true);
    assert.equal(lines[1]!.note, true);
    assert.match(lines[1]!.what, /--token is visible to every local user.*CONSUL_HTTP_TOKEN_FILE/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
