import assert from "node:assert/strict";
import { toInstance } from "../lib/consul/client.ts";
import { parseArgv } from "../lib/args.ts";
import { UsageError } from "../lib/errors.ts";
import { renderCheck } from "../lib/output.ts";
import { judgeCrontab, parseIdFile } from "../lib/probes/crontab.ts";
import { findTask, interpretProcs } from "../lib/probes/procs.ts";
import { interpretStatus } from "../lib/probes/service.ts";
import type { RunResult } from "../lib/sys/runner.ts";
import { parseCheckArgs, wantedTags } from "../cmd/check.ts";

const run = (code: number | null, stdout = "", extra: Partial<RunResult> = {}): RunResult => ({
  argv: ["x"],
  code,
  signal: null,
  stdout,
  stderr: "",
  timedOut: false,
  ms: 1,
  ...extra,
});

Deno.test("parseCheckArgs() validates before any request", async (t) => {
  const spec = {
    consulservice: { type: "string", short: "S" },
    service: { type: "string", short: "s" },
    user: { type: "string", short: "u" },
    nagiosargs: { type: "string", short: "n" },
    procre: { type: "string", short: "R" },
    updatekv: { type: "boolean", short: "U" },
  } as const;
  const bad: Record<string, string[]> = {
    "no kind": ["-S", "x"],
    "unknown kind": ["bogus", "-S", "x"],
    "missing -S": ["service", "-s", "a"],
    "missing -s": ["service", "-S", "x"],
    "two services for service": ["service", "-s", "a,b", "-S", "x"],
    "bad service name": ["service", "-s", "a;b", "-S", "x"],
    "missing -u": ["crontab", "-S", "x"],
    "missing -n": ["process", "-S", "x"],
    "bad regex": ["service", "-s", "a", "-S", "x", "-R", "("],
  };
  for (const [name, argv] of Object.entries(bad)) {
    await t.step(
      name,
      () => assert.throws(() => parseCheckArgs(parseArgv(argv, spec)), UsageError),
    );
  }
  const ok = parseCheckArgs(parseArgv(["servicegroup", "-s", "a, b", "-S", "x", "-U"], spec));
  assert.deepEqual(ok.services, ["a", "b"]);
  assert.equal(ok.updateKv, true);
});

Deno.test("wantedTags() adds nodns for stopped-as-expected, removes it for running", () => {
  assert.deepEqual(wantedTags(["web"], false), ["web", "nodns"]);
  assert.equal(wantedTags(["web", "nodns"], false), null);
  assert.deepEqual(wantedTags(["nodns", "web"], true), ["web"]);
  assert.equal(wantedTags(["web"], true), null);
});

Deno.test("toInstance() reads Consul's health wire format", () => {
  const entry = {
    Node: { Node: "n1", Address: "127.0.0.1", Datacenter: "dc1" },
    Service: { ID: "web", Service: "web", Tags: null },
    Checks: [
      {
        Node: "n1",
        CheckID: "serfHealth",
        Name: "",
        Status: "critical",
        Output: "Agent not live or unreachable",
        ServiceID: "",
        ServiceName: "",
      },
      {
        Node: "n1",
        CheckID: "web-check",
        Name: "",
        Status: "passing",
        ServiceID: "web",
        ServiceName: "web",
      },
    ],
  };
  const i = toInstance(entry);
  assert.equal(i.passing, false, "a dead node (serfHealth critical) is not passing");
  assert.deepEqual(i.failing, ["serfHealth=critical"]);
  assert.equal(i.pending, false, "serfHealth critical is a real failure");
  assert.equal(toInstance({ ...entry, Checks: [] }).passing, true);
  const fresh = toInstance({
    ...entry,
    Checks: [{ ...entry.Checks[1]!, Status: "critical", Output: "" }],
  });
  assert.equal(fresh.passing, false);
  assert.equal(fresh.pending, true, "a check that has not run yet is pending");
  const claim = toInstance({
    ...entry,
    Checks: [{
      ...entry.Checks[1]!,
      ModifyIndex: 42,
      Output: '{"type":"service","expects":true,"state":"passing"}\n',
    }],
  });
  assert.equal(claim.checksIndex, 42);
  assert.equal(claim.claimsActive, true);
  assert.equal(i.claimsActive, false);
});

Deno.test("interpretStatus() judges by exit code, never by text", async (t) => {
  await t.step(
    "0 running even if text says stopped",
    () => assert.equal(interpretStatus("service", "a", run(0, "is not running")).running, true),
  );
  await t.step(
    "3 stopped even if text says running",
    () => assert.equal(interpretStatus("service", "a", run(3, "active (running)")).running, false),
  );
  await t.step(
    "1 (dead, pid file) stopped",
    () => assert.equal(interpretStatus("service", "a", run(1)).running, false),
  );
  await t.step("4 unknown", () => assert.throws(() => interpretStatus("service", "a", run(4))));
  await t.step(
    "unrecognized service",
    () =>
      assert.throws(
        () => interpretStatus("service", "a", run(1, "a: unrecognized service")),
        /not known/,
      ),
  );
  await t.step(
    "timeout",
    () => assert.throws(() => interpretStatus("service", "a", run(null, "", { timedOut: true }))),
  );
  await t.step(
    "systemctl 3 inactive",
    () => assert.equal(interpretStatus("systemctl", "a", run(3, "inactive")).running, false),
  );
});

Deno.test("interpretProcs() maps check_procs codes", () => {
  assert.equal(interpretProcs(run(0, "PROCS OK")).state, "ok");
  assert.equal(interpretProcs(run(1, "PROCS WARNING")).state, "warning");
  assert.equal(interpretProcs(run(2, "PROCS CRITICAL")).state, "critical");
  assert.throws(() => interpretProcs(run(3, "check_procs: bad arg")), /bad arg/);
});

Deno.test("judgeCrontab() checks existence, owner, group, entries and pattern", () => {
  const ids = { uid: 1000, crontabGid: 101 };
  const ok = { exists: true, uid: 1000, gid: 101, text: "# c\n* * * * * /bin/job\n" };
  assert.equal(judgeCrontab("u", ok, ids).installed, true);
  assert.equal(judgeCrontab("u", ok, ids, "/bin/job").installed, true);
  assert.match(judgeCrontab("u", ok, ids, "other").detail, /does not contain/);
  assert.match(judgeCrontab("u", { exists: false }, ids).detail, /no crontab/);
  assert.match(judgeCrontab("u", { ...ok, uid: 0 }, ids).detail, /owned by uid 0/);
  assert.match(judgeCrontab("u", { ...ok, gid: 0 }, ids).detail, /group/);
  assert.match(judgeCrontab("u", { ...ok, text: "# only\n\n" }, ids).detail, /only comments/);
  assert.deepEqual([...parseIdFile("root:x:0:0::/root:/bin/sh\nbob:x:1000:1000::/h:/bin/sh\n")], [[
    "root",
    0,
  ], ["bob", 1000]]);
});

Deno.test("findTask() ignores powerconsul itself and its ancestors", () => {
  const table = [
    { pid: 1, ppid: 0, argv: ["init"] },
    { pid: 10, ppid: 1, argv: ["bash", "/opt/scripts/powerconsul", "check", "-P", "apt-get"] },
    { pid: 11, ppid: 10, argv: ["deno", "run", "/opt/main.ts", "check", "-P", "apt-get"] },
    { pid: 20, ppid: 1, argv: ["/usr/local/bin/powerconsul", "check", "-P", "apt-get"] },
  ];
  assert.equal(findTask(table, { substring: "apt-get" }, 11, "/opt/main.ts"), undefined);
  const launched = {
    pid: 40,
    ppid: 1,
    argv: [
      "/x/deno",
      "run",
      "-q",
      "--no-prompt",
      "-P=powerconsul",
      "/opt/scripts/../main.ts",
      "check",
      "-P",
      "apt-get",
    ],
  };
  assert.equal(
    findTask([...table, launched], { substring: "apt-get" }, 11, "/opt/main.ts"),
    undefined,
    "another dev-launched check",
  );
  const withTask = [...table, { pid: 30, ppid: 1, argv: ["apt-get", "install", "x"] }];
  assert.equal(findTask(withTask, { substring: "apt-get" }, 11, "/opt/main.ts")?.pid, 30);
  assert.equal(findTask(withTask, { regex: /^apt-get install/ }, 11, "/opt/main.ts")?.pid, 30);
});

Deno.test("renderCheck() prints the old tool's JSON line or the message alone", () => {
  const r = {
    type: "service",
    resource: "apache2",
    consulService: "web",
    expects: true,
    clustered: true,
    role: "secondary",
    state: "passing" as const,
    message: "ok",
  };
  const j = JSON.parse(renderCheck(r, "json"));
  assert.deepEqual(j, {
    type: "service",
    service: "apache2",
    consulService: "web",
    expects: true,
    clustered: true,
    role: "secondary",
    state: "passing",
    code: 0,
    message: "ok",
  });
  assert.equal(renderCheck(r, "text"), "ok");
  assert.equal(
    JSON.parse(renderCheck({ ...r, type: "crontab", state: "unknown" }, "json")).code,
    3,
  );
});
