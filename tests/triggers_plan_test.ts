// Pure parts of watch and trigger (issue 4) and of restart-storm protection (issue 7):
// table-driven, no Consul, no processes.
import assert from "node:assert/strict";
import { parseArgv } from "../lib/args.ts";
import { DEFAULTS } from "../lib/config.ts";
import type { Config } from "../lib/config.ts";
import { b64encode } from "../lib/consul/client.ts";
import { UsageError } from "../lib/errors.ts";
import { parseKvExport, roleWhy, safeFileName, SnapshotSource } from "../lib/triggers/fire.ts";
import {
  judge,
  type KeyState,
  type LimitSettings,
  parseState,
  record,
  type StateFile,
} from "../lib/triggers/limit.ts";
import {
  type Action,
  buildPlan,
  InputError,
  parseHealthCheck,
  planAction,
  renderPlan,
  substitute,
  type TriggerContext,
  triggerKey,
  variables,
} from "../lib/triggers/plan.ts";
import { actionExitCode } from "../lib/triggers/run.ts";
import { parseWatchInput, selectLocal } from "../cmd/watch.ts";
import { parseTriggerArgs } from "../cmd/trigger.ts";
import { decide, place } from "../lib/cluster/role.ts";
import { parseClusterDoc } from "../lib/cluster/doc.ts";

const ctx: TriggerContext = {
  service: "web",
  node: "n1",
  role: "primary",
  state: "critical",
  check: "web-check",
  dc: "dc1",
};

const config = (over: Partial<Config> = {}): Config => ({
  ...structuredClone(DEFAULTS) as Config,
  ...over,
});

Deno.test("triggerKey() builds <prefix>/<service>/<role>/<state>", () => {
  assert.equal(
    triggerKey("triggers", "web", "primary", "critical"),
    "triggers/web/primary/critical",
  );
  assert.equal(triggerKey("a/b/", "db", "standalone", "warning"), "a/b/db/standalone/warning");
});

Deno.test("parseHealthCheck() accepts Consul's shape and names what is missing", async (t) => {
  const good = {
    Node: "n1",
    CheckID: "c",
    Name: "n",
    Status: "critical",
    Output: "out",
    ServiceID: "web1",
    ServiceName: "web",
    ServiceTags: ["x"],
    Definition: {},
  };
  await t.step("full entry", () => {
    const c = parseHealthCheck(good, "e");
    assert.equal(c.ServiceName, "web");
    assert.equal(c.Output, "out");
  });
  await t.step("node check: empty ServiceName is valid", () => {
    assert.equal(parseHealthCheck({ ...good, ServiceName: "" }, "e").ServiceName, "");
  });
  await t.step("optional strings may be absent", () => {
    const c = parseHealthCheck({ Node: "n", ServiceName: "s" }, "e");
    assert.deepEqual([c.CheckID, c.Status, c.Output], ["", "", ""]);
  });
  const bad: Record<string, [unknown, RegExp]> = {
    "not an object": [[1], /not a health-check object \(got an array\)/],
    "null": [null, /got null/],
    "no Node": [{ ServiceName: "s" }, /has no Node/],
    "empty Node": [{ Node: "", ServiceName: "s" }, /has no Node/],
    "no ServiceName": [{ Node: "n" }, /has no ServiceName/],
    "ServiceName not a string": [{ Node: "n", ServiceName: 3 }, /has no ServiceName/],
    "Status a number": [{ Node: "n", ServiceName: "s", Status: 2 }, /Status must be a string/],
  };
  for (const [name, [v, re]] of Object.entries(bad)) {
    await t.step(`rejects: ${name}`, () => {
      assert.throws(() => parseHealthCheck(v, "entry 3"), (e: Error) => {
        assert.ok(e instanceof InputError);
        assert.match(e.message, /^entry 3/);
        assert.match(e.message, re);
        return true;
      });
    });
  }
});

Deno.test("substitute() replaces longest names first, in one pass", async (t) => {
  const vars = new Map([
    ["SERVICE", "web"],
    ["SERVICE_PORT", "8080"],
    ["NODE", "n1"],
    ["EVIL", "@NODE $(x)"],
  ]);
  const cases: Record<string, [string, string]> = {
    "simple": ["svc=@SERVICE", "svc=web"],
    "longest first": ["@SERVICE_PORT/@SERVICE", "8080/web"],
    "adjacent": ["@SERVICE@NODE", "webn1"],
    "unknown left alone": ["@NOPE user@host", "@NOPE user@host"],
    "values are not rescanned": ["@EVIL", "@NODE $(x)"],
    "no @ at all": ["plain", "plain"],
    "case sensitive": ["@service", "@service"],
  };
  for (const [name, [text, want]] of Object.entries(cases)) {
    await t.step(name, () => assert.equal(substitute(text, vars), want));
  }
});

Deno.test("variables() puts subVars (with or without @) over built-ins and reports it", () => {
  const { vars, shadowed } = variables({ ENV: "prod", ROLE: "webserver" }, ctx);
  assert.equal(vars.get("ENV"), "prod");
  assert.equal(vars.get("ROLE"), "webserver");
  assert.equal(vars.get("NODE"), "n1");
  assert.deepEqual(shadowed, ["ROLE"]);
});

Deno.test("planAction() chooses argv or script, never a shell", async (t) => {
  const vars = new Map([
    ["SERVICE", "web"],
    ["SEMI", "; touch X"],
    ["SUB", "$(touch X)"],
    ["TICK", "`touch X`"],
    ["SPACE", "a b"],
    ["EMPTY", ""],
  ]);
  const cases: Record<string, [string, Action]> = {
    "plain command": ["/usr/sbin/service web start", {
      kind: "command",
      argv: ["/usr/sbin/service", "web", "start"],
    }],
    "quotes honoured": [`/bin/echo 'a  b' "c d" e\\ f`, {
      kind: "command",
      argv: ["/bin/echo", "a  b", "c d", "e f"],
    }],
    "operators are words": ["/bin/echo a; touch X && b", {
      kind: "command",
      argv: ["/bin/echo", "a;", "touch", "X", "&&", "b"],
    }],
    "substituted values stay one argument": ["/bin/echo @SEMI @SUB @TICK @SPACE", {
      kind: "command",
      argv: ["/bin/echo", "; touch X", "$(touch X)", "`touch X`", "a b"],
    }],
    "empty substitution stays an argument": ["/bin/echo @EMPTY x", {
      kind: "command",
      argv: ["/bin/echo", "", "x"],
    }],
    "substitution inside a word": ["/usr/bin/touch /var/m-@SERVICE", {
      kind: "command",
      argv: ["/usr/bin/touch", "/var/m-web"],
    }],
    "leading blank lines before the command": ["\n  /bin/true", {
      kind: "command",
      argv: ["/bin/true"],
    }],
    "bash script": ["#!/bin/bash\necho @SERVICE\n", {
      kind: "script",
      interpreter: ["/bin/bash"],
      text: "#!/bin/bash\necho web\n",
    }],
    "env python3": ["#!/usr/bin/env python3\nprint('@SERVICE')\n", {
      kind: "script",
      interpreter: ["/usr/bin/env", "python3"],
      text: "#!/usr/bin/env python3\nprint('web')\n",
    }],
    "interpreter argument is one word like the kernel's": ["#!/usr/bin/env -S bash -e\nx\n", {
      kind: "script",
      interpreter: ["/usr/bin/env", "-S bash -e"],
      text: "#!/usr/bin/env -S bash -e\nx\n",
    }],
    "interpreter line is never substituted": ["#!/bin/@SERVICE\nx", {
      kind: "script",
      interpreter: ["/bin/@SERVICE"],
      text: "#!/bin/@SERVICE\nx",
    }],
    "CRLF script": ["#!/bin/sh\r\necho hi\r\n", {
      kind: "script",
      interpreter: ["/bin/sh"],
      text: "#!/bin/sh\r\necho hi\r\n",
    }],
  };
  for (const [name, [value, want]] of Object.entries(cases)) {
    await t.step(name, () => assert.deepEqual(planAction(value, vars), want));
  }
  const bad: Record<string, [string, RegExp]> = {
    "unterminated quote": [`/bin/echo 'a`, /unterminated single quote/],
    "blank": ["   ", /empty/],
    "empty program after substitution": ["@EMPTY x", /names no program/],
    "no interpreter": ["#!\necho", /no interpreter/],
    "relative interpreter": ["#!bash\necho", /absolute path/],
  };
  for (const [name, [value, re]] of Object.entries(bad)) {
    await t.step(`rejects: ${name}`, () => {
      assert.throws(() => planAction(value, vars), (e: Error) => {
        assert.ok(e instanceof InputError, String(e));
        assert.match(e.message, re);
        return true;
      });
    });
  }
});

Deno.test("buildPlan() treats a missing or empty value as nothing to do and sets the env", () => {
  for (const value of [null, "", "  \n"]) {
    const p = buildPlan({ ctx, why: "w", key: "k", value, subVars: {} });
    assert.equal(p.action, null);
    assert.equal(p.value, null);
  }
  const p = buildPlan({ ctx, why: "w", key: "k", value: "/bin/true @DC", subVars: {} });
  assert.deepEqual(p.action, { kind: "command", argv: ["/bin/true", "dc1"] });
  assert.deepEqual(p.env, {
    POWERCONSUL_SERVICE: "web",
    POWERCONSUL_NODE: "n1",
    POWERCONSUL_ROLE: "primary",
    POWERCONSUL_STATE: "critical",
    POWERCONSUL_CHECK: "web-check",
    POWERCONSUL_DC: "dc1",
  });
});

Deno.test("renderPlan() names the role, why, key, and the exact argv or script", () => {
  const o = { storm: "would run now", logFile: "L", stateFile: "S", scriptDir: "D", timeoutS: 7 };
  const cmd = renderPlan(
    buildPlan({
      ctx,
      why: "because",
      key: "triggers/web/primary/critical",
      value: "/bin/x 'a b'",
      subVars: {},
    }),
    o,
  );
  assert.match(cmd.join("\n"), /role: primary — because/);
  assert.match(cmd.join("\n"), /key: triggers\/web\/primary\/critical — found/);
  assert.ok(cmd.includes(`action: command, run as argv (no shell): ["/bin/x","a b"]`));
  assert.match(cmd.join("\n"), /would: run it \(timeout 7s\), record the run in S/);
  const script = renderPlan(
    buildPlan({ ctx, why: "w", key: "k", value: "#!/bin/bash\necho @NODE\n", subVars: {} }),
    o,
  );
  assert.ok(script.includes("  | echo n1"), script.join("\n"));
  assert.match(script.join("\n"), /private copy under D\/ \(mode 0700, removed after\)/);
  const none = renderPlan(buildPlan({ ctx, why: "w", key: "k", value: null, subVars: {} }), o);
  assert.match(none.join("\n"), /missing or empty: nothing would run/);
  assert.ok(!none.join("\n").includes("would: run"));
});

Deno.test("actionExitCode() passes the action's code, 3 when killed, 1 when not started", () => {
  const base = { argv: ["x"], signal: null, stdout: "", stderr: "", timedOut: false, ms: 1 };
  assert.equal(actionExitCode({ ...base, code: 0 }), 0);
  assert.equal(actionExitCode({ ...base, code: 7 }), 7);
  assert.equal(actionExitCode({ ...base, code: 0, timedOut: true }), 3);
  assert.equal(actionExitCode({ ...base, code: null, signal: "SIGKILL" }), 3);
  assert.equal(actionExitCode({ ...base, code: null, spawnError: "NotCapable" }), 1);
});

Deno.test("safeFileName() keeps a service's log inside the trigger directory", () => {
  assert.equal(safeFileName("web"), "web");
  assert.equal(safeFileName("../../etc/x"), "_._.._etc_x");
  assert.equal(safeFileName(".hidden"), "_hidden");
  assert.equal(safeFileName(""), "_");
});

// ------------------------------------------------------------------------------------------
// restart-storm protection

const S: LimitSettings = { cooldownMs: 10_000, burst: 3, windowMs: 3_600_000 };
const key = { service: "web", role: "primary", state: "critical" } as const;
const entry = (runs: number[], pending?: { until: number; pid: number }): KeyState => ({
  ...key,
  runs,
  ...(pending ? { pending } : {}),
});

Deno.test("judge() applies cooldown, burst and pending marks", async (t) => {
  const now = 10_000_000;
  const alive = () => true;
  const dead = () => false;
  const cases: Record<string, [KeyState | undefined, object, string, object?]> = {
    "first run": [undefined, {}, "run"],
    "past the cooldown": [entry([now - 10_000]), {}, "run"],
    "inside the cooldown: deferred to last + cooldown": [entry([now - 4_000]), {}, "defer", {
      until: now + 6_000,
      lastRun: now - 4_000,
    }],
    "burst reached: limited until the oldest run leaves the window": [
      entry([now - 3_000_000, now - 2_000_000, now - 1_000_000]),
      {},
      "limited",
      { runs: 3, clearsAt: now - 3_000_000 + 3_600_000 },
    ],
    "runs outside the window do not count": [
      entry([now - 3_700_000, now - 2_000_000, now - 1_000_000]),
      {},
      "run",
    ],
    "a live pending mark coalesces": [
      entry([now - 4_000], { until: now + 6_000, pid: 42 }),
      { alive },
      "coalesced",
      { until: now + 6_000, pid: 42 },
    ],
    "a dead owner's pending mark is ignored": [
      entry([now - 4_000], { until: now + 6_000, pid: 42 }),
      { alive: dead },
      "defer",
    ],
    "an overdue pending mark is ignored": [
      entry([now - 60_000], { until: now - 50_000, pid: 42 }),
      { alive },
      "run",
    ],
    "the owner is not coalesced into its own mark": [
      entry([now - 10_000], { until: now, pid: 42 }),
      { alive, owner: true },
      "run",
    ],
    "limited beats pending": [
      entry([now - 3, now - 2, now - 1], { until: now + 6_000, pid: 42 }),
      { alive },
      "limited",
    ],
    "a run in the future (clock went back) counts as now": [
      entry([now + 500_000]),
      {},
      "defer",
      { until: now + 10_000 },
    ],
  };
  for (const [name, [e, opts, kind, extra]] of Object.entries(cases)) {
    await t.step(name, () => {
      const v = judge(e, now, S, opts);
      assert.equal(v.kind, kind);
      for (const [k, val] of Object.entries(extra ?? {})) {
        assert.equal((v as Record<string, unknown>)[k], val, k);
      }
    });
  }
});

Deno.test("record() adds runs, sets and clears pending marks, forgets old runs", () => {
  const now = 10_000_000;
  let st: StateFile = { version: 1, entries: [] };
  st = record(st, key, { kind: "run" }, now, S, 1, false);
  assert.deepEqual(st.entries[0]!.runs, [now]);
  st = record(st, key, { kind: "defer", until: now + 10_000, lastRun: now }, now + 1, S, 2, false);
  assert.deepEqual(st.entries[0]!.pending, { until: now + 10_000, pid: 2 });
  st = record(st, key, { kind: "run" }, now + 10_000, S, 2, true);
  assert.deepEqual(st.entries[0]!.runs, [now, now + 10_000]);
  assert.equal(st.entries[0]!.pending, undefined);
  // an owner that finds it should not run after all only clears its mark
  st = record(
    st,
    key,
    { kind: "defer", until: now + 20_000, lastRun: now },
    now + 11_000,
    S,
    3,
    false,
  );
  st = record(st, key, { kind: "defer", until: 0, lastRun: 0 }, now + 20_000, S, 3, true);
  assert.equal(st.entries[0]!.pending, undefined);
  // past the window everything is forgotten
  st = record(st, { ...key, service: "db" }, { kind: "run" }, now + 4_000_000, S, 1, false);
  assert.deepEqual(st.entries.map((e) => e.service), ["db"]);
});

Deno.test("parseState() rejects anything that is not a version 1 state", async (t) => {
  assert.deepEqual(parseState('{"version":1,"entries":[]}'), { version: 1, entries: [] });
  for (
    const bad of [
      "",
      "{",
      "[]",
      '{"version":2,"entries":[]}',
      '{"version":1,"entries":[1]}',
      '{"version":1,"entries":[{"service":"a","role":"primary","state":"critical","runs":["x"]}]}',
      '{"version":1,"entries":[{"service":"a","role":"p","state":"c","runs":[],"pending":{}}]}',
    ]
  ) {
    await t.step(JSON.stringify(bad), () => assert.throws(() => parseState(bad)));
  }
});

// ------------------------------------------------------------------------------------------
// watch input

Deno.test("parseWatchInput() refuses anything but a valid checks array, naming the problem", async (t) => {
  const cases: Record<string, [string | null, RegExp]> = {
    "a terminal": [null, /stdin is a terminal/],
    "empty": ["", /stdin is empty/],
    "blank": [" \n", /stdin is empty/],
    "invalid JSON": ["[{", /not valid JSON/],
    "an object": ["{}", /must be a JSON array.*got an object/],
    "null (key watch)": ["null\n", /got null/],
    "a number": ["5", /got a number/],
    "one bad entry among good ones": [
      JSON.stringify([{ Node: "a", ServiceName: "s" }, { Node: "b" }]),
      /^entry 1 of 2 \(node b\) has no ServiceName/,
    ],
  };
  for (const [name, [text, re]] of Object.entries(cases)) {
    await t.step(name, () => {
      assert.throws(() => parseWatchInput(text), (e: Error) => {
        assert.ok(e instanceof InputError);
        assert.match(e.message, re);
        return true;
      });
    });
  }
  await t.step("empty array is valid", () => assert.deepEqual(parseWatchInput("[]\n"), []));
});

Deno.test("selectLocal() keeps this node's service checks in the state that have output", () => {
  const c = (Node: string, ServiceName: string, Status: string, Output: string) =>
    parseHealthCheck({ Node, ServiceName, Status, Output, CheckID: `${Node}-${ServiceName}` }, "e");
  const s = selectLocal(
    [
      c("me", "web", "critical", "down"),
      c("me", "db", "critical", ""),
      c("me", "", "critical", "serf"),
      c("me", "api", "warning", "slow"),
      c("other", "web", "critical", "down"),
    ],
    "me",
    "critical",
  );
  assert.deepEqual(s.fire.map((x) => x.ServiceName), ["web"]);
  assert.deepEqual([s.unrun, s.nodeChecks, s.otherState], [1, 1, 1]);
});

Deno.test("parseWatchInput() + selectLocal() handle 10,000 entries well inside 150 ms", () => {
  const entries = [];
  for (let i = 0; i < 10_000; i++) {
    entries.push({
      Node: i % 3333 === 7 ? "me" : `node-${i}`,
      CheckID: `service:svc${i}`,
      Name: `Service 'svc${i}' check`,
      Status: "critical",
      Notes: "",
      Output: "connection refused, and a longer line of output as real checks print",
      ServiceID: `svc${i}`,
      ServiceName: `svc${i}`,
      ServiceTags: ["prod", "v1"],
      Type: "script",
      Definition: { Interval: "0s", Timeout: "0s" },
      CreateIndex: i,
      ModifyIndex: i,
    });
  }
  const text = JSON.stringify(entries);
  const t0 = performance.now();
  const sel = selectLocal(parseWatchInput(text), "me", "critical");
  const ms = performance.now() - t0;
  assert.equal(sel.fire.length, 3);
  assert.ok(ms < 150, `took ${ms.toFixed(1)} ms`);
});

// ------------------------------------------------------------------------------------------
// trigger command line, snapshots, roles

Deno.test("parseTriggerArgs() validates everything before any I/O", async (t) => {
  const check = '{"Node":"n1","ServiceName":"web","CheckID":"c"}';
  const opts = {
    check: { type: "string", short: "s" },
    consulservice: { type: "string", short: "S" },
    "kv-snapshot": { type: "string" },
    dc: { type: "string" },
    actives: { type: "string" },
  } as const;
  const parse = (argv: string[]) => parseTriggerArgs(parseArgv(argv, opts));
  await t.step("fire", () => {
    const a = parse(["critical", "-s", check]);
    assert.equal(a.mode, "fire");
    if (a.mode === "fire") assert.equal(a.check.ServiceName, "web");
  });
  await t.step("reset", () =>
    assert.deepEqual(parse(["reset", "-S", "web"]), {
      mode: "reset",
      service: "web",
    }));
  await t.step("snapshot", () => {
    const a = parse([
      "warning",
      "--dry-run",
      "--kv-snapshot",
      "f",
      "--dc",
      "dc2",
      "--actives",
      "failing",
      "-s",
      check,
    ]);
    assert.deepEqual(a.mode === "fire" && [a.snapshot, a.dc, a.actives], ["f", "dc2", "failing"]);
  });
  const bad: Record<string, [string[], RegExp]> = {
    "no state": [[], /missing state/],
    "bad state": [["passing", "-s", check], /unknown state "passing"/],
    "no -s": [["critical"], /missing required option -s/],
    "-s not JSON": [["critical", "-s", "{"], /-s is not valid JSON/],
    "-s without Node": [["critical", "-s", '{"ServiceName":"w"}'], /-s has no Node/],
    "-s node check": [["critical", "-s", '{"Node":"n","ServiceName":""}'], /empty ServiceName/],
    "snapshot without dry-run": [
      ["critical", "--kv-snapshot", "f", "-s", check],
      /needs --dry-run/,
    ],
    "bad --actives": [
      ["critical", "--dry-run", "--kv-snapshot", "f", "--actives", "up", "-s", check],
      /--actives must be passing or failing/,
    ],
    "--dc without snapshot": [["critical", "--dc", "x", "-s", check], /describe a --kv-snapshot/],
    "-S on fire": [["critical", "-S", "web", "-s", check], /-S applies to reset/],
    "-s on reset": [["reset", "-s", check], /does not apply to reset/],
    "extra word": [["critical", "x", "-s", check], /unexpected argument "x"/],
  };
  for (const [name, [argv, re]] of Object.entries(bad)) {
    await t.step(`rejects: ${name}`, () => {
      assert.throws(() => parse(argv), (e: Error) => {
        assert.ok(e instanceof UsageError, String(e));
        assert.match(e.message, re);
        return true;
      });
    });
  }
});

Deno.test("parseKvExport() decodes consul kv export JSON and names bad entries", () => {
  const m = parseKvExport(
    JSON.stringify([
      { key: "a", flags: 0, value: b64encode("héllo") },
      { key: "b", flags: 0, value: "" },
    ]),
    "snap",
  );
  assert.equal(m.get("a"), "héllo");
  assert.equal(m.get("b"), "");
  assert.throws(() => parseKvExport("{}", "snap"), /must be the JSON array/);
  assert.throws(() => parseKvExport('[{"value":""}]', "snap"), /entry 0 has no "key"/);
  assert.throws(() => parseKvExport('[{"key":"k","value":"%%%"}]', "snap"), /not valid base64/);
});

Deno.test("SnapshotSource.role() resolves like the agent would, from the stated health", async (t) => {
  const doc = JSON.stringify({ active_nodes: ["a1"], standby_nodes: ["s1"] });
  const kv = (d: string) => new Map([["cluster/web", d]]);
  const cfg = config({ clusterKey: "cluster" });
  const cases: Record<string, [string, string, "passing" | "failing" | undefined, string, RegExp]> =
    {
      "active": [doc, "a1", undefined, "primary", /listed active/],
      "standby, actives passing": [
        doc,
        "s1",
        "passing",
        "secondary",
        /an active instance is passing/,
      ],
      "standby, actives failing: acts as primary": [
        doc,
        "s1",
        "failing",
        "primary",
        /acting as primary/,
      ],
      "standby, locked: stays secondary": [
        JSON.stringify({ active_nodes: ["a1"], standby_nodes: ["s1"], lock: true }),
        "s1",
        "failing",
        "secondary",
        /locked/,
      ],
      "datacenter document": [
        JSON.stringify({ active_datacenter: "dc1", standby_datacenter: "dc2" }),
        "x",
        "failing",
        "primary",
        /datacenter dc2 is standby/,
      ],
    };
  for (const [name, [d, node, actives, role, why]] of Object.entries(cases)) {
    await t.step(name, async () => {
      const dc = name.startsWith("datacenter") ? "dc2" : "dc1";
      const r = await new SnapshotSource(kv(d), cfg, node, dc, actives).role("web");
      assert.equal(r.role, role);
      assert.match(r.why, why);
    });
  }
  await t.step("no clusterKey: standalone", async () => {
    const r = await new SnapshotSource(kv(doc), config(), "s1", "", undefined).role("web");
    assert.equal(r.role, "standalone");
  });
  await t.step("a standby without --actives is a usage error", async () => {
    await assert.rejects(
      new SnapshotSource(kv(doc), cfg, "s1", "dc1", undefined).role("web"),
      /--actives passing\|failing/,
    );
  });
});

Deno.test("roleWhy() carries no instance detail, so live and offline plans read the same", () => {
  const doc = parseClusterDoc(JSON.stringify({ active_nodes: ["a"], standby_nodes: ["s"] }));
  const p = place({ doc, node: "s", datacenter: "dc1" });
  const live = decide(p, [{
    node: "a",
    datacenter: "dc1",
    passing: false,
    failing: ["serfHealth=critical"],
  }]);
  const offline = decide(p, [{ node: "a", datacenter: "", passing: false, failing: ["x"] }]);
  assert.notEqual(live.reason, offline.reason);
  assert.equal(roleWhy(p, live), roleWhy(p, offline));
});

Deno.test("planAction() refuses to paste a payload value with shell syntax into a script", () => {
  const vars = new Map([["CHECK", "$(touch /x)"], ["NODE", "web-1"], ["ENV", "a b; c"]]);
  const untrusted = new Set(["CHECK", "NODE"]);
  assert.throws(
    () => planAction('#!/bin/sh\necho "@CHECK"\n', vars, untrusted),
    (e: Error) => e instanceof InputError && /POWERCONSUL_CHECK/.test(e.message),
  );
  // unused, safe, or trusted (the operator's subVars) values are fine
  assert.equal(
    (planAction("#!/bin/sh\necho @NODE @ENV\n", vars, untrusted) as { text: string }).text,
    "#!/bin/sh\necho web-1 a b; c\n",
  );
  // a command line keeps any value as one argument: no refusal needed
  assert.deepEqual(planAction("/bin/echo @CHECK", vars, untrusted), {
    kind: "command",
    argv: ["/bin/echo", "$(touch /x)"],
  });
});
