// The shipped sandbox, exercised through the dev launcher (same flags as `deno task compile`).
import assert from "node:assert/strict";
import { join } from "node:path";
import { startStallServer } from "../harness/proxy.ts";
import { sandboxDirs, writeConfig } from "../harness/system.ts";
import { cli, REPO } from "../_cli.ts";

Deno.test("sandbox: a request to an address outside the allowlist is refused by the runtime, in one line", async () => {
  await using dirs = await sandboxDirs("sbx-net");
  await using other = startStallServer();
  const config = await writeConfig(dirs.configDir, { logDir: dirs.logDir });
  const r = await cli(["config", "check", "--config", config, "--http-addr", other.addr]);
  assert.equal(r.code, 3);
  assert.match(
    r.stdout + r.stderr,
    new RegExp(`network access to ${other.addr.replace(/\./g, "\\.")} is not allowed`),
  );
  assert.equal(other.connections, 0, "no connection was made");
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  // the same address becomes reachable only through the build-time list
  const allowed = await cli(["config", "check", "--config", config, "--http-addr", other.addr], {
    net: other.addr,
    env: {},
  });
  assert.match(allowed.stdout + allowed.stderr, /did not answer/);
});

Deno.test("sandbox: a write outside the permitted paths is refused, in one line, with nothing written", async () => {
  const target = join(REPO, ".tmp", `sandbox-write-${crypto.randomUUID()}.json`);
  const r = await cli(["config", "bootstrap", "-C", "{}", "--config", target]);
  assert.equal(r.code, 3);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /blocked by the binary's permission sandbox: Requires write access/);
  await assert.rejects(Deno.stat(target), Deno.errors.NotFound);
  await assert.rejects(Deno.stat(`${target}.new`), Deno.errors.NotFound);
});

Deno.test("sandbox: the launcher and the compile task take their flags from the same function", async () => {
  const launcher = await Deno.readTextFile(join(REPO, "scripts", "powerconsul"));
  const compile = await Deno.readTextFile(join(REPO, "scripts", "compile.sh"));
  for (const s of [launcher, compile]) {
    assert.match(s, /^set_permission_flags$/m);
    assert.match(s, /"\$\{FLAGS\[@\]\}"/);
  }
  const out = await new Deno.Command("bash", {
    args: ["-c", `. ${join(REPO, "scripts", "_deno.sh")}; permission_flags`],
    env: { POWERCONSUL_NET: "10.9.8.7:8501" },
  }).output();
  const flags = new TextDecoder().decode(out.stdout).trim().split("\n");
  assert.deepEqual(flags.slice(1), [
    "-P=powerconsul",
    "--allow-net=127.0.0.1:8500,localhost:8500,10.9.8.7:8501",
  ]);
  const denoJson = JSON.parse(await Deno.readTextFile(join(REPO, "deno.json")));
  assert.deepEqual(denoJson.permissions.powerconsul.net, ["127.0.0.1:8500", "localhost:8500"]);
});

Deno.test("compile: DENORT_BIN pointing to a missing file fails with the explanatory line", async () => {
  const out = await new Deno.Command("bash", {
    args: [join(REPO, "scripts", "compile.sh")],
    env: { DENORT_BIN: "/nonexistent/denort" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.notEqual(out.code, 0);
  const err = new TextDecoder().decode(out.stderr).trim();
  assert.equal(err.split("\n").length, 1, err);
  assert.match(err, /DENORT_BIN=\/nonexistent\/denort is not an executable file.*denort binary/);
});

Deno.test("every command and subcommand answers --help with exit 0 and an example", async () => {
  const paths = [
    [],
    ["check"],
    ["check", "service"],
    ["check", "servicegroup"],
    ["check", "crontab"],
    ["check", "process"],
    ["watch"],
    ["watch", "critical"],
    ["trigger"],
    ["trigger", "warning"],
    ["trigger", "reset"],
    ["history"],
    ["pause"],
    ["resume"],
    ["failover"],
    ["service"],
    ["service", "web", "start-primary"],
    ["status"],
    ["config"],
    ["config", "bootstrap"],
    ["config", "show"],
    ["config", "check"],
  ];
  for (const p of paths) {
    const r = await cli([...p, "--help"]);
    assert.equal(r.code, 0, `${p.join(" ")} --help: ${r.stderr}`);
    assert.match(r.stdout, /Usage: powerconsul/, p.join(" "));
    assert.match(r.stdout, /Example/, `${p.join(" ")} --help has an example line`);
  }
  const v = await cli(["--version"]);
  assert.equal(v.code, 0);
  // GNU style: the version is the last word of the first line; Deno's on the second.
  const [first, second] = v.stdout.split("\n");
  assert.match(first!, /^powerconsul \d+\.\d+\.\d+$/);
  assert.equal(first!.split(" ").at(-1), JSON.parse(Deno.readTextFileSync("deno.json")).version);
  assert.equal(second, `deno ${Deno.version.deno}`);
  const unknown = await cli(["frobnicate"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  const none = await cli([]);
  assert.equal(none.code, 2);
});

Deno.test("compile: what it compiles (main.ts bundled into one minified module) runs under the shipped flags", async () => {
  const compile = await Deno.readTextFile(join(REPO, "scripts", "compile.sh"));
  assert.match(compile, /"\$DENO" bundle -q --minify -o "\$bundle" main\.ts/);
  assert.match(compile, /--output "\$out" "\$bundle"/);
  const dir = await Deno.makeTempDir({ prefix: "pc-bundle-" });
  try {
    const bundle = join(dir, "powerconsul.bundle.js");
    const script = `. ${join(REPO, "scripts", "_deno.sh")}; set_permission_flags; ` +
      `"$DENO" bundle -q --minify -o ${bundle} ${join(REPO, "main.ts")} && ` +
      `"$DENO" run -q --no-prompt "\${FLAGS[@]}" ${bundle} check service -S web`;
    const out = await new Deno.Command("bash", {
      args: ["-c", script],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    // the bundled check validates its arguments like the source: -s missing is a usage error
    assert.equal(out.code, 3, stderr);
    assert.match(stderr, /powerconsul check: .*-s\/--service/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
