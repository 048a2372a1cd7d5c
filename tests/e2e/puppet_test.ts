// The Puppet example (examples/puppet/powerconsul) compiled and dry-run by the real `puppet apply
// --noop`: the module is copied into a temporary module path next to the system's modules (where
// Debian's puppet-module-puppetlabs-stdlib puts stdlib), and every directory Puppet writes to
// (confdir, vardir, codedir, logdir, rundir, publicdir, ssldir, cadir) is a temporary one, so the
// run reads the machine but writes nothing of it. The manifest is the README's Puppet example. The
// paths the class manages are compared before and after the run.
import assert from "node:assert/strict";
import { join } from "node:path";

const MODULE = new URL("../../examples/puppet/powerconsul", import.meta.url).pathname;
const SYSTEM_MODULES = "/usr/share/puppet/modules";
const PUPPET_TIMEOUT_MS = 180_000;

/** Why the test cannot run here, or undefined when puppet and stdlib are both present. */
function missing(): string | undefined {
  try {
    const out = new Deno.Command("puppet", { args: ["--version"], stdout: "piped", stderr: "null" })
      .outputSync();
    if (!out.success) return "`puppet --version` failed (install the Debian package puppet)";
  } catch {
    return "no puppet on PATH (scripts/setup.sh installs the Debian package puppet)";
  }
  try {
    Deno.statSync(join(SYSTEM_MODULES, "stdlib", "metadata.json"));
  } catch {
    return `no stdlib under ${SYSTEM_MODULES} (install puppet-module-puppetlabs-stdlib)`;
  }
  return undefined;
}

// A skipped test says why twice: a line before the tests (the pretty reporter shows it) and in its
// name (the JUnit report, from which CI counts skips, keeps it; the dot reporter shows neither).
const skip = missing();
if (skip !== undefined) {
  // deno-lint-ignore no-console -- the reason for the skip, visibly
  console.log(`puppet_test: SKIPPED: ${skip}`);
}
const NAME = "puppet apply --noop compiles the example class and lists what it would manage";

const README = new URL("../../README.md", import.meta.url).pathname;

/** The README's Puppet example (its only puppet block): one clustered service group, web. */
function readmeManifest(): string {
  const block = Deno.readTextFileSync(README).match(/```puppet\n([\s\S]*?)```/);
  assert.ok(block, "README.md has no ```puppet block");
  return block[1]!;
}

/** Every resource the class must manage for the README's manifest, as Puppet titles them. */
const RESOURCES = [
  "File[/usr/local/bin/powerconsul]",
  "File[/etc/powerconsul]",
  "File[/var/log/powerconsul]",
  "File[/etc/powerconsul/config.json]",
  "File[/etc/consul.d/powerconsul-trigger-watches.json]",
  "File[/etc/init.d/web]",
  "File[/etc/consul.d/powerconsul-web-check.json]",
  "File[/etc/consul.d/powerconsul-web-switch-watches.json]",
  "Exec[powerconsul consul reload]",
];

/**
 * The machine paths those resources touch, and their state before and after the run. Directories
 * by mode only: other tests write files into them at the same time.
 */
const WATCHED_FILES = [
  "/usr/local/bin/powerconsul",
  "/etc/powerconsul/config.json",
  "/etc/consul.d/powerconsul-trigger-watches.json",
  "/etc/consul.d/powerconsul-web-check.json",
  "/etc/consul.d/powerconsul-web-switch-watches.json",
  "/etc/init.d/web",
];
const WATCHED_DIRS = ["/etc/powerconsul", "/var/log/powerconsul", "/etc/consul.d", "/etc/init.d"];

function snapshot(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const path of [...WATCHED_FILES, ...WATCHED_DIRS]) {
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(path);
    } catch {
      out[path] = "absent";
      continue;
    }
    out[path] = info.isDirectory
      ? `dir mode=${info.mode}`
      : `mode=${info.mode} size=${info.size} mtime=${info.mtime?.getTime()}`;
  }
  return out;
}

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    const src = join(from, entry.name);
    const dst = join(to, entry.name);
    if (entry.isDirectory) await copyTree(src, dst);
    else if (entry.isFile) await Deno.copyFile(src, dst);
  }
}

Deno.test({
  name: skip === undefined ? NAME : `${NAME} (SKIPPED: ${skip})`,
  ignore: skip !== undefined,
  fn: async () => {
    const tmp = await Deno.makeTempDir({ prefix: "powerconsul-puppet-" });
    try {
      const modules = join(tmp, "modules");
      await copyTree(MODULE, join(modules, "powerconsul"));
      // Where an operator drops the binary built by scripts/compile.sh; a stand-in here.
      await Deno.mkdir(join(modules, "powerconsul", "files"), { recursive: true });
      await Deno.writeTextFile(join(modules, "powerconsul", "files", "powerconsul"), "#!/bin/sh\n");
      // Debian's puppet keeps ssldir and publicdir outside vardir: each gets its own temp dir.
      const dirs = [
        "confdir",
        "vardir",
        "codedir",
        "logdir",
        "rundir",
        "publicdir",
        "ssldir",
        "cadir",
      ];
      for (const d of dirs) await Deno.mkdir(join(tmp, d));

      const before = snapshot();
      const out = await new Deno.Command("puppet", {
        args: [
          "apply",
          "--noop",
          "--detailed-exitcodes",
          "--verbose",
          "--evaltrace",
          "--write-catalog-summary",
          "--color=false",
          ...dirs.map((d) => `--${d}=${join(tmp, d)}`),
          `--modulepath=${modules}:${SYSTEM_MODULES}`,
          "-e",
          readmeManifest(),
        ],
        stdout: "piped",
        stderr: "piped",
        stdin: "null",
        env: { HOME: tmp },
        signal: AbortSignal.timeout(PUPPET_TIMEOUT_MS),
      }).output();
      const after = snapshot();
      const stdout = new TextDecoder().decode(out.stdout);
      const stderr = new TextDecoder().decode(out.stderr);
      const transcript = `exit ${out.code}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`;

      // --detailed-exitcodes: 0 nothing to change, 2 changes (noop: would change); 1, 4, 6 failures.
      assert.ok(out.code === 0 || out.code === 2, transcript);
      assert.doesNotMatch(stdout + stderr, /Error: (?!Facter:)/, transcript);

      // The catalog holds every resource, and the noop run evaluated each one.
      const summary = await Deno.readTextFile(join(tmp, "vardir", "state", "resources.txt"));
      const trace = /\/Stage\[main\]\/[^\n]*?([A-Z][a-z]+\[[^\]]+\]): Evaluated in/g;
      const evaluated = [...stdout.matchAll(trace)].map((m) => m[1]!);
      for (const r of RESOURCES) {
        const lower = r.replace(/^[A-Z][a-z]+/, (t) => t.toLowerCase());
        assert.ok(summary.split("\n").includes(lower), `${r} not in the catalog:\n${summary}`);
        assert.ok(evaluated.includes(r), `${r} not evaluated by the noop run\n${transcript}`);
      }
      // consul reload comes after every file, and the noop run never ran it.
      const reload = evaluated.indexOf("Exec[powerconsul consul reload]");
      for (const r of RESOURCES.filter((r) => r.startsWith("File["))) {
        assert.ok(evaluated.indexOf(r) < reload, `${r} evaluated after the reload\n${transcript}`);
      }
      assert.doesNotMatch(stdout, /executed successfully/, transcript);
      // A Consul file that would change would notify the reload (this machine has none of them
      // unless the class was applied here for real).
      if (/File\[\/etc\/consul\.d\/[^\]]+\]\/\w+: current_value .*\(noop\)/.test(stdout)) {
        assert.match(stdout, /Exec\[powerconsul consul reload\]: Would have triggered 'refresh'/);
      }

      // Nothing of the machine changed.
      assert.deepEqual(after, before);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
