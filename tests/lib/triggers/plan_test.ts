// Trigger planning: the check JSON, the KV key, argv or script, the paste guard.
import assert from "node:assert/strict";
import {
  buildPlan,
  InputError,
  parseHealthCheck,
  planAction,
  planActionWithWarnings,
  startsShell,
  type TriggerAction,
  type TriggerContext,
  triggerKey,
} from "../../../lib/triggers/plan.ts";
import { UsageError } from "../../../lib/errors.ts";

const ctx: TriggerContext = {
  service: "web",
  node: "n1",
  role: "primary",
  state: "critical",
  check: "web-check",
  dc: "dc1",
};

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

Deno.test("planAction() chooses argv or script, never a shell", async (t) => {
  const vars = new Map([
    ["SERVICE", "web"],
    ["SEMI", "; touch X"],
    ["SUB", "$(touch X)"],
    ["TICK", "`touch X`"],
    ["SPACE", "a b"],
    ["EMPTY", ""],
  ]);
  const cases: Record<string, [string, TriggerAction]> = {
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

Deno.test("planAction(): the guard sees @CHECK_ID, @NODE1 and @DCx (the tokens substitution uses)", () => {
  const vars = new Map([["CHECK", "$(id>&2)"], ["NODE", "`id`"], ["DC", "a;b"]]);
  const untrusted = new Set(["CHECK", "NODE", "DC"]);
  for (const body of ['echo "@CHECK_ID"', "echo @NODE1", "echo @DCx"]) {
    assert.throws(
      () => planAction(`#!/bin/sh\n${body}\n`, vars, untrusted),
      (e: Error) =>
        e instanceof InputError && /refusing to paste @(CHECK|NODE|DC) /.test(e.message),
      body,
    );
  }
});

Deno.test("startsShell(): a shell on -c, directly or through env", async (t) => {
  const yes = [
    ["/bin/sh", "-c", "x"],
    ["bash", "-ec", "x"],
    ["/usr/bin/env", "/bin/bash", "-c", "x"],
    ["env", "-i", "A=1", "sh", "-x", "-c", "x"],
    ["env", "-u", "HOME", "dash", "-c", "x"],
    ["/bin/busybox", "sh", "-c", "x"],
  ];
  const no = [
    ["/bin/sh", "/etc/script.sh", "-c"],
    ["/usr/bin/python3", "-c", "x"],
    ["/bin/echo", "-c"],
    ["/usr/bin/env", "python3", "-c", "x"],
    ["/bin/sh", "--", "-c"],
  ];
  for (const w of yes) await t.step(`yes: ${w.join(" ")}`, () => assert.ok(startsShell(w)));
  for (const w of no) await t.step(`no: ${w.join(" ")}`, () => assert.ok(!startsShell(w)));
});

Deno.test("planAction(): a command that starts a shell with -c gets the script rule", () => {
  const vars = new Map([["CHECK", "$(touch /x)"], ["SERVICE", "web"], ["ENV", "a; b"]]);
  const untrusted = new Set(["CHECK", "SERVICE"]);
  for (const v of ['/bin/sh -c "echo @CHECK"', "/usr/bin/env bash -c 'x @CHECK'"]) {
    assert.throws(
      () => planAction(v, vars, untrusted),
      (e: Error) => e instanceof InputError && /into a shell's -c command line/.test(e.message),
    );
  }
  // safe payload values and the operator's own subVars still go in
  assert.deepEqual(planAction('/bin/sh -c "echo @SERVICE @ENV"', vars, untrusted), {
    kind: "command",
    argv: ["/bin/sh", "-c", "echo web a; b"],
  });
});

Deno.test("planActionWithWarnings(): misspelt names are kept literally and reported", () => {
  const vars = new Map([["SERVICE", "web"]]);
  const r = planActionWithWarnings("/usr/bin/touch /m-@SERVCE-@SERVICE", vars);
  assert.deepEqual(r.action, { kind: "command", argv: ["/usr/bin/touch", "/m-@SERVCE-web"] });
  assert.deepEqual(r.warnings, [
    "@SERVCE is not a trigger variable: it is passed through literally",
  ]);
  const s = planActionWithWarnings("#!/bin/sh\necho @SERVCE\n", vars);
  assert.equal(s.warnings.length, 1);
});

Deno.test("triggerKey() refuses a ServiceName that would leave the prefix", () => {
  for (const bad of ["../service/evil", "..", "", "a/b"]) {
    assert.throws(() => triggerKey("triggers", bad, "primary", "critical"), UsageError, bad);
  }
});
