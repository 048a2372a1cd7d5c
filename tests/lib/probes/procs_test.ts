import assert from "node:assert/strict";
import { findTask, interpretProcs } from "../../../lib/probes/procs.ts";
import type { RunResult } from "../../../lib/sys/runner.ts";

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

Deno.test("interpretProcs() maps check_procs codes", () => {
  assert.equal(interpretProcs(run(0, "PROCS OK")).state, "ok");
  assert.equal(interpretProcs(run(1, "PROCS WARNING")).state, "warning");
  assert.equal(interpretProcs(run(2, "PROCS CRITICAL")).state, "critical");
  assert.throws(() => interpretProcs(run(3, "check_procs: bad arg")), /bad arg/);
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
