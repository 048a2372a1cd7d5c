// Security: trigger actions and probes never run through a shell; nothing
// written to world-writable directories; the config written 0600; the ACL token never in logs,
// output, or the arguments of anything powerconsul starts; --dry-run executes nothing.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type AgentHandle, startCluster } from "../harness/consul.ts";
import { sandboxDirs, uniqueName, writeConfig } from "../harness/system.ts";
import { kvPut, register } from "../_agent.ts";
import { LAUNCHER, REPO } from "../_cli.ts";
import {
  assertNoCrash,
  cliAt,
  exists,
  healthCheck,
  listing,
  type RunOpts,
  show,
  type Timed,
  tree,
  ttl,
} from "./_helpers.ts";
import { Category, Tally } from "./_results.ts";

const tally = new Tally(import.meta.url);

/** Tests on real agents: declared here so the JUnit report files them under this file. */
const agentTest = (name: string, fn: (t: Deno.TestContext) => Promise<void>) =>
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });
const S = Category.security;

async function writeExec(path: string, text: string) {
  await Deno.writeTextFile(path, text, { mode: 0o755 });
  await Deno.chmod(path, 0o755);
}

agentTest(
  "security: no shell for actions or probes, nothing in world-writable dirs, config 0600, the token never leaks, --dry-run runs nothing",
  async (t) => {
    await using dirs = await sandboxDirs("security");
    await using cluster = await startCluster({ acl: true });
    const agent: AgentHandle = cluster.server;
    const token = cluster.aclToken!;
    const inj = join(dirs.logDir, "inj");
    const rec = join(dirs.logDir, "rec");
    await Deno.mkdir(inj, { recursive: true });
    await Deno.mkdir(rec, { recursive: true });
    const touch = (name: string) => `/usr/bin/touch ${inj}/${name}`;
    const config = await writeConfig(dirs.configDir, {
      logDir: dirs.logDir,
      crontabDir: dirs.crontabDir,
      triggerCooldown: 0,
      triggerBurst: 100000,
      subVars: {
        SEMI: `; ${touch("sv-semi")}`,
        SUB: `$(${touch("sv-sub")})`,
        TICK: `\`${touch("sv-tick")}\``,
        NL: `x\n${touch("sv-nl")}`,
      },
    });
    const base = cliAt(cluster, agent.httpAddr, config);
    const run = (args: string[], o: RunOpts = {}) =>
      base(args, { ...o, env: { CONSUL_HTTP_TOKEN: token, ...o.env } });
    await register(agent, {
      ID: "sec",
      Name: "sec",
      Checks: [{ CheckID: "sec-ttl", TTL: "1h" }, { CheckID: "sec-warn", TTL: "1h" }],
    });
    // a trigger acts only when the local agent reports the check in the trigger's state
    await ttl(agent, "sec-ttl", "fail");
    await ttl(agent, "sec-warn", "warn");
    const key = "triggers/sec/standalone/critical";
    const hc = (extra: Record<string, unknown> = {}) =>
      JSON.stringify(healthCheck(agent.name, "sec", { CheckID: "sec-ttl", ...extra }));
    const noInjection = async (what: string) =>
      assert.deepEqual(await listing(inj), [], `${what}: a shell ran something`);
    const step = (name: string, fn: () => Promise<void>) =>
      t.step(name, () => tally.case(S, name, fn));

    // ---- trigger actions: an argv, never a shell ------------------------------------------
    const actions: [string, string, string | RegExp, Record<string, unknown>?][] = [
      ["; separator", `/bin/echo a; ${touch("semi")}`, `a; ${touch("semi")}`],
      ["$(…) substitution", `/bin/echo $(${touch("sub")})`, `$(${touch("sub")})`],
      ["backticks", `/bin/echo \`${touch("tick")}\``, `\`${touch("tick")}\``],
      ["&& list", `/bin/echo a && ${touch("and")}`, `a && ${touch("and")}`],
      ["| pipe", `/bin/echo a | /usr/bin/tee ${inj}/pipe`, `a | /usr/bin/tee ${inj}/pipe`],
      ["> redirection", `/bin/echo a > ${inj}/redir`, `a > ${inj}/redir`],
      ["$(…) in double quotes", `/bin/echo "$(${touch("dq")})"`, `$(${touch("dq")})`],
      ["newline", `/bin/echo a\n${touch("nl")}`, `a ${touch("nl")}`],
      ["subVars with ;", "/bin/echo @SEMI", `; ${touch("sv-semi")}`],
      ["subVars with $(…)", "/bin/echo @SUB", `$(${touch("sv-sub")})`],
      ["subVars with backticks", "/bin/echo @TICK", `\`${touch("sv-tick")}\``],
      ["subVars with a newline", "/bin/printf %s @NL", `x\n${touch("sv-nl")}`],
      ["@CHECK from the check JSON", "/bin/echo @CHECK", `$(${touch("check")})`, {
        CheckID: `$(${touch("check")})`,
      }],
    ];
    for (const [name, value, want, extra] of actions) {
      await step(`trigger action never through a shell: ${name}`, async () => {
        await kvPut(agent, key, value);
        const r = await run(["trigger", "critical", "-s", hc(extra)]);
        assertNoCrash(r);
        assert.equal(r.code, 0, show(r));
        // the metacharacters reached the program as plain argument text
        assert.ok(r.stdout.includes(want as string), show(r));
        await noInjection(name);
      });
    }

    await step(
      "watch: a check ID carrying $(…) and ; reaches the action as one argument",
      async () => {
        await kvPut(agent, key, "/bin/echo @CHECK");
        const id = `$(${touch("w1")}); ${touch("w2")}`;
        const r = await run(["watch", "critical"], {
          stdin: JSON.stringify([healthCheck(agent.name, "sec", { CheckID: id })]) + "\n",
        });
        assertNoCrash(r);
        assert.equal(r.code, 0, show(r));
        const log = await Deno.readTextFile(join(dirs.logDir, "trigger", "sec.critical.log"));
        assert.ok(log.includes(`stdout: ${id}`), "the action printed the ID verbatim");
        await noInjection("watch");
      },
    );

    // ---- probes: argv too ------------------------------------------------------------------
    const probes: [string, string[], number[]][] = [
      ["check_procs arguments with $(…)", [
        "check",
        "process",
        "-n",
        `-c 1: -C "$(${touch("p1")})"`,
      ], [2]],
      ["check_procs arguments with ;", ["check", "process", "-n", `-c 1: ; ${touch("p2")}`], [
        2,
        3,
      ]],
      ["crontab pattern with $(…)", ["check", "crontab", "-u", "root", "-p", `$(${touch("p3")})`], [
        2,
      ]],
      ["-P and -R with $(…) and backticks", [
        "check",
        "process",
        "-n",
        "-c 1: -C no-such-proc",
        "-P",
        `$(${touch("p4")})`,
        "-R",
        `\`${touch("p5")}\``,
      ], [2]],
      ["a service name with ;", ["check", "service", "-s", `x;${touch("p6")}`], [3]],
    ];
    for (const [name, args, codes] of probes) {
      await step(`probe never through a shell: ${name}`, async () => {
        const r = await run([...args, "-S", "sec"]);
        assertNoCrash(r);
        assert.ok(codes.includes(r.code), show(r));
        await noInjection(name);
      });
    }

    // ---- nothing in /tmp, /var/tmp, /dev/shm -------------------------------------------------
    await step(
      "check, trigger (command and #! script) and watch write nothing to /tmp, /var/tmp or /dev/shm",
      async () => {
        const ran = join(dirs.logDir, "ran");
        await Deno.mkdir(ran, { recursive: true });
        await kvPut(agent, key, `/usr/bin/touch ${ran}/critical`);
        await kvPut(
          agent,
          "triggers/sec/standalone/warning",
          `#!/bin/sh\n/usr/bin/touch ${ran}/warning-script\n`,
        );
        // Fresh, empty tmpfs mounts over the three directories, in a private mount namespace:
        // whatever is in them afterwards was written by these commands (nothing else runs there).
        // The checkout itself may live under /tmp (CI clones anywhere): bind it elsewhere first,
        // so the tmpfs mounts cannot hide the launcher.
        const alt = `/run/powerconsul-sec-${crypto.randomUUID().slice(0, 8)}`;
        await Deno.mkdir(alt);
        const script = `
set -u
mount --bind "$REPO" "$ALT" || exit 96
PC="$ALT/scripts/powerconsul"
for d in /tmp /var/tmp /dev/shm; do mount -t tmpfs -o mode=1777,size=16m pcsec "$d" || exit 97; done
"$PC" check process -n '-c 0:' -S sec --config "$CFG"
"$PC" trigger critical -s "$HC" --config "$CFG"
"$PC" trigger warning -s "$HCW" --config "$CFG"
printf '%s\\n' "$PAYLOAD" | "$PC" watch critical --config "$CFG"
"$PC" status --config "$CFG"
echo "--- left behind:"
find /tmp /var/tmp /dev/shm -mindepth 1 -print
`;
        const o = await new Deno.Command("unshare", {
          args: ["--mount", "--propagation", "private", "--", "/bin/sh", "-c", script],
          env: {
            REPO,
            ALT: alt,
            CFG: config,
            HC: hc(),
            HCW: hc({ Status: "warning", CheckID: "sec-warn" }),
            PAYLOAD: JSON.stringify([healthCheck(agent.name, "sec", { CheckID: "sec-ttl" })]),
            POWERCONSUL_NET: cluster.netAllow,
            CONSUL_HTTP_ADDR: agent.httpAddr,
            CONSUL_HTTP_TOKEN: token,
          },
          stdout: "piped",
          stderr: "piped",
          signal: AbortSignal.timeout(60_000),
        }).output();
        await Deno.remove(alt).catch(() => {});
        const dec = new TextDecoder();
        const out = dec.decode(o.stdout);
        assert.equal(o.code, 0, `${out}\n${dec.decode(o.stderr)}`);
        const left = out.split("--- left behind:\n")[1]?.trim() ?? "(no marker line)";
        assert.equal(left, "", `written to a world-writable directory:\n${left}`);
        // the actions did run (so the run exercised the script path too)
        assert.deepEqual(await listing(ran), ["critical", "warning-script"]);
        // and nothing powerconsul created under the log root is world-writable
        for (const p of await tree(dirs.logDir)) {
          const st = await Deno.lstat(p);
          assert.equal((st.mode ?? 0) & 0o002, 0, `${p} is world-writable`);
        }
      },
    );

    // ---- config bootstrap writes 0600 --------------------------------------------------------
    await step(
      "config bootstrap: 0600 when new, over a 0644 file, over a stale 0666 .new, under umask 000",
      async () => {
        const json = JSON.stringify({ logDir: dirs.logDir });
        const mode = async (p: string) => (await Deno.stat(p)).mode! & 0o777;
        const boot = async (path: string, umask = "022") => {
          const o = await new Deno.Command("/bin/sh", {
            args: [
              "-c",
              `umask ${umask}; exec "$0" config bootstrap -C "$1" --config "$2"`,
              LAUNCHER,
              json,
              path,
            ],
            stdout: "piped",
            stderr: "piped",
          }).output();
          assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
          assert.equal(await mode(path), 0o600, `${path} mode (umask ${umask})`);
          assert.equal(await exists(`${path}.new`), false, "no .new left");
        };
        const fresh = join(dirs.configDir, "fresh.json");
        await boot(fresh);
        const existing = join(dirs.configDir, "existing.json");
        await Deno.writeTextFile(existing, "{}", { mode: 0o644 });
        await Deno.chmod(existing, 0o644);
        await boot(existing);
        const stale = join(dirs.configDir, "stale.json");
        await Deno.writeTextFile(`${stale}.new`, "old", { mode: 0o666 });
        await Deno.chmod(`${stale}.new`, 0o666);
        await boot(stale);
        const loose = join(dirs.configDir, "sub", "loose.json");
        await boot(loose, "000");
        assert.equal(await mode(join(dirs.configDir, "sub")) & 0o077, 0, "new directory 0700");
        assert.equal(JSON.parse(await Deno.readTextFile(loose)).logDir, dirs.logDir);
      },
    );

    // ---- the token ---------------------------------------------------------------------------
    // Recorders: a check_procs and an init script that write down the arguments they get.
    const procsRec = join(dirs.configDir, "check_procs_rec.sh");
    await writeExec(
      procsRec,
      `#!/bin/sh\nprintf '%s\\n' "$0" "$@" >> ${rec}/args\necho "PROCS OK: 1 process"\nexit 0\n`,
    );
    const initName = uniqueName("pcsec");
    const initScript = `/etc/init.d/${initName}`;
    try {
      await writeExec(
        initScript,
        `#!/bin/sh\nprintf '%s\\n' "$0" "$@" >> ${rec}/args\necho "${initName} is running"\nexit 0\n`,
      );
      await Deno.mkdir(join(dirs.configDir, "tok"), { recursive: true });
      const tokConfig = await writeConfig(join(dirs.configDir, "tok"), {
        logDir: dirs.logDir,
        checkProcs: procsRec,
        triggerCooldown: 0,
        triggerBurst: 100000,
      });
      const dump = join(rec, "dump");
      await Deno.mkdir(dump, { recursive: true });
      const outputs: Timed[] = [];
      for (const via of ["env", "flag"] as const) {
        await step(
          `the token (given by ${
            via === "env" ? "CONSUL_HTTP_TOKEN" : "--token"
          }) never reaches output, logs, or the arguments of probes and actions`,
          async () => {
            await Deno.remove(join(rec, "args")).catch(() => {});
            await kvPut(
              agent,
              key,
              `/bin/sh -c 'echo $PPID > "$1"; ps -eo pid=,ppid=,args= > "$2"; ` +
                `tr "\\0" " " < /proc/$PPID/cmdline > "$3"' sh ${dump}/ppid ${dump}/ps ${dump}/parent`,
            );
            const tokRun = (args: string[], o: RunOpts = {}) =>
              cliAt(cluster, agent.httpAddr, tokConfig)(
                via === "flag" ? [...args, "--token", token] : args,
                via === "env" ? { ...o, env: { CONSUL_HTTP_TOKEN: token } } : o,
              );
            const runs = [
              await tokRun(["check", "process", "-n", "-c 0:", "-S", "sec"]),
              await tokRun(["check", "service", "-s", initName, "-S", "sec"]),
              await tokRun(["check", "process", "-n", "-c 0:", "-S", "nosuch"]),
              await tokRun(["service", initName, "status", "-S", "sec"]),
              await tokRun(["status"]),
              await tokRun(["config", "check"]),
              await tokRun(["config", "show"]),
              await tokRun(["trigger", "critical", "--dry-run", "-s", hc()]),
              await tokRun(["trigger", "critical", "--output", "json", "-s", hc()]),
            ];
            for (const r of runs) assertNoCrash(r);
            assert.equal(runs[0]!.code, 0, show(runs[0]!));
            assert.equal(runs[1]!.code, 0, show(runs[1]!));
            assert.equal(runs[8]!.code, 0, show(runs[8]!));
            // the action's view: its own and its children's arguments, and its parent's
            const pid = Number((await Deno.readTextFile(`${dump}/ppid`)).trim());
            const table = (await Deno.readTextFile(`${dump}/ps`)).trim().split("\n").map((l) => {
              const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l)!;
              return { pid: Number(m[1]), ppid: Number(m[2]), args: m[3]! };
            });
            const mine = new Set([pid]);
            for (let grew = true; grew;) {
              grew = false;
              for (const p of table) {
                if (mine.has(p.ppid) && !mine.has(p.pid)) {
                  mine.add(p.pid);
                  grew = true;
                }
              }
            }
            const spawned = table.filter((p) => p.pid !== pid && mine.has(p.pid));
            assert.ok(spawned.some((p) => p.args.startsWith("/bin/sh -c")), "the action is seen");
            for (const p of spawned) assert.ok(!p.args.includes(token), `token in: ${p.args}`);
            const parent = await Deno.readTextFile(`${dump}/parent`);
            if (via === "env") assert.ok(!parent.includes(token), "token in powerconsul's argv");
            // a watch firing the same action
            runs.push(
              await tokRun(["watch", "critical"], {
                stdin: JSON.stringify([healthCheck(agent.name, "sec", { CheckID: "sec-ttl" })]),
              }),
            );
            // probes' arguments
            const args = await Deno.readTextFile(join(rec, "args"));
            assert.match(args, new RegExp(initName), "the init script was probed");
            assert.match(args, /check_procs_rec/, "check_procs was run");
            assert.ok(!args.includes(token), "token in a probe's arguments");
            for (const r of runs) {
              assert.ok(!r.stdout.includes(token) && !r.stderr.includes(token), show(r));
            }
            outputs.push(...runs);
          },
        );
      }

      await step(
        "a token that cannot be a header value is refused without being shown",
        async () => {
          const bad = `${token}\nsecond-line`;
          for (
            const r of [
              await base(["check", "process", "-n", "-c 0:", "-S", "sec", "--token", bad]),
              await base(["status"], { env: { CONSUL_HTTP_TOKEN: `${token}\u0001` } }),
            ]
          ) {
            assertNoCrash(r);
            assert.equal(r.code, 3, show(r));
            assert.match(
              r.stdout + r.stderr,
              /contains a control character .* the token is not shown/,
            );
            assert.ok(!(r.stdout + r.stderr).includes(token.slice(0, 8)), show(r));
          }
        },
      );

      await step("the token is in no log file", async () => {
        const files = (await tree(dirs.logDir)).filter((p) => p.endsWith(".log"));
        assert.ok(files.length >= 3, `logs written: ${files.join(", ")}`);
        for (const f of files) {
          const text = await Deno.readTextFile(f);
          assert.ok(!text.includes(token), `token in ${f}`);
          assert.ok(!text.includes(token.slice(0, 8)), `part of the token in ${f}`);
        }
      });
    } finally {
      await Deno.remove(initScript).catch(() => {});
    }

    // A #! script gets @VARs as text: a payload value (the check ID) with shell syntax must never
    // reach the script's shell; the planner refuses to paste it.
    await step("a #!/bin/sh trigger using @CHECK never runs a $(…) from the check ID", async () => {
      await kvPut(agent, key, `#!/bin/sh\necho "check @CHECK"\n`);
      const r = await run(["trigger", "critical", "-s", hc({ CheckID: `$(${touch("script")})` })]);
      assertNoCrash(r);
      assert.equal(r.code, 1, show(r));
      assert.match(r.stdout + r.stderr, /refusing to paste @CHECK/, show(r));
      await noInjection("script @CHECK");
      // a plain check ID is still pasted
      const ok = await run(["trigger", "critical", "-s", hc()]);
      assert.equal(ok.code, 0, show(ok));
      assert.match(ok.stdout, /check sec-ttl/, show(ok));
    });

    // ---- --dry-run ---------------------------------------------------------------------------
    await step(
      "--dry-run: trigger, watch, service restart and config bootstrap run and write nothing",
      async () => {
        const mark = join(dirs.logDir, "dry");
        await kvPut(agent, key, `/usr/bin/touch ${mark}-cmd`);
        await kvPut(
          agent,
          "triggers/sec/standalone/warning",
          `#!/bin/sh\n/usr/bin/touch ${mark}-script\n`,
        );
        const before = await tree(dirs.logDir);
        const lock = join(dirs.lockDir, "dry.lock");
        const runs = [
          await run(["trigger", "critical", "--dry-run", "-s", hc()]),
          await run([
            "trigger",
            "warning",
            "--dry-run",
            "-s",
            hc({ Status: "warning", CheckID: "sec-warn" }),
          ]),
          await run(["watch", "critical", "--dry-run"], {
            stdin: JSON.stringify([healthCheck(agent.name, "sec", { CheckID: "sec-ttl" })]),
          }),
          await run(["service", "pcsecdry", "restart", "-S", "sec", "-F", lock, "--dry-run"]),
          await run([
            "config",
            "bootstrap",
            "-C",
            "{}",
            "--dry-run",
            "--config",
            join(dirs.configDir, "dry.json"),
          ]),
        ];
        for (const r of runs) {
          assertNoCrash(r);
          assert.equal(r.code, 0, show(r));
          assert.match(r.stdout, /dry-run|would/, show(r));
        }
        assert.equal(await exists(`${mark}-cmd`), false);
        assert.equal(await exists(`${mark}-script`), false);
        assert.equal(await exists(lock), false);
        assert.equal(await exists(join(dirs.configDir, "dry.json")), false);
        // log lines saying what a dry run would do are allowed; nothing else may appear or go
        const notLogs = (ps: string[]) => ps.filter((p) => !p.endsWith(".log"));
        assert.deepEqual(
          notLogs(await tree(dirs.logDir)),
          notLogs(before),
          "a file created or removed",
        );
      },
    );
  },
);
