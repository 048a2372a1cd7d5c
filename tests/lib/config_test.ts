import assert from "node:assert/strict";
import { join } from "node:path";
import {
  configCandidates,
  DEFAULTS,
  haTimingProblem,
  loadConfig,
  validateConfig,
  writeConfigAtomic,
} from "../../lib/config.ts";
import { envFrom } from "../../lib/env.ts";
import { ConfigError } from "../../lib/errors.ts";

Deno.test("validateConfig() names the key of a wrong type and warns on unknown keys", async (t) => {
  const wrong: Record<string, unknown> = {
    clusterKey: 5,
    serviceFilter: "(",
    subVars: ["x"],
    noopTriggers: "a",
    httpTimeout: -1,
    triggerBurst: 1.5,
    serviceManager: "upstart",
  };
  for (const [key, value] of Object.entries(wrong)) {
    await t.step(key, () =>
      assert.throws(
        () => validateConfig({ [key]: value }, "f"),
        (e: unknown) => e instanceof ConfigError && e.message.includes(`"${key}"`),
      ));
  }
  const v = validateConfig(
    { clusterKey: "c/", subVars: { "@ENV": "prod", ROLE: "web" }, nope: 1 },
    "f",
  );
  assert.equal(v.config.clusterKey, "c");
  assert.deepEqual(v.config.subVars, { ENV: "prod", ROLE: "web" });
  assert.equal(v.warnings.length, 1);
  assert.match(v.warnings[0]!, /unknown key "nope"/);
  assert.throws(() => validateConfig([], "f"), ConfigError);
});

Deno.test("configCandidates() follows the search order; loadConfig() reports what it tried", async () => {
  const env = envFrom({ POWERCONSUL_CONFIG: "/e/c.json", HOME: "/h" });
  assert.deepEqual(configCandidates(undefined, env), ["/e/c.json"], "a named config only");
  assert.deepEqual(configCandidates(undefined, envFrom({ HOME: "/h" })), [
    "/h/.powerconsul.conf",
    "/etc/powerconsul/config.json",
  ]);
  assert.deepEqual(configCandidates("/f", env), ["/f"]);
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      loadConfig({ flagPath: join(dir, "missing.json"), env, required: true }),
      (e: unknown) =>
        e instanceof ConfigError && /missing\.json.*--config.*config bootstrap/.test(e.message),
    );
    await Deno.writeTextFile(join(dir, "bad.json"), "{");
    await assert.rejects(
      loadConfig({ flagPath: join(dir, "bad.json"), env, required: true }),
      /invalid JSON/,
    );
    const path = join(dir, "ok.json");
    await writeConfigAtomic(path, { clusterKey: "k" });
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const l = await loadConfig({ flagPath: path, env, required: true, nodeFlag: "n1" });
    assert.equal(l.config.clusterKey, "k");
    assert.equal(l.sources.clusterKey, "file");
    assert.equal(l.sources.logDir, "default");
    assert.equal(l.config.nodeName, "n1");
    assert.equal(l.sources.nodeName, "flag");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("validateConfig() refuses values that validate but mean something else", async (t) => {
  const wrong: Record<string, unknown> = {
    clusterKey: "/",
    servicePrefix: "a/../b",
    triggerPrefix: "//",
    httpTimeout: 0,
    probeTimeout: 2_147_484,
    triggerTimeout: 1e12,
    switchTimeout: 0,
    triggerCooldown: 2_147_484,
    triggerWindow: 0,
    checkDeadline: 0,
    commandDeadline: 2_147_484,
    passToken: "yes",
    serviceFilter: "(a+)+$",
  };
  for (const [key, value] of Object.entries(wrong)) {
    await t.step(`${key} = ${JSON.stringify(value)}`, () =>
      assert.throws(
        () => validateConfig({ [key]: value }, "f"),
        (e: unknown) => e instanceof ConfigError && e.message.includes(`"${key}"`),
      ));
  }
  await t.step("a command deadline shorter than an action's timeout", () =>
    assert.throws(
      () => validateConfig({ triggerTimeout: 600, commandDeadline: 300 }, "f"),
      /commandDeadline.*triggerTimeout/,
    ));
  assert.equal(validateConfig({ triggerCooldown: 0 }, "f").config.triggerCooldown, 0);
  assert.equal(validateConfig({ clusterKey: "a/b//" }, "f").config.clusterKey, "a/b");
});

Deno.test("validateConfig(): only own keys count; Object members are unknown keys", () => {
  const raw = JSON.parse(
    `{"toString": 1, "constructor": "x", "__proto__": {"logDir": "/evil"}, "hasOwnProperty": 2}`,
  );
  const v = validateConfig(raw, "f");
  assert.equal(v.warnings.length, 4, v.warnings.join("; "));
  for (const w of v.warnings) assert.match(w, /unknown key/);
  assert.equal(typeof v.config.toString, "function", "the config is a plain object");
  assert.ok(!Object.hasOwn(v.config, "toString"));
  assert.equal(v.config.logDir, "/var/log/powerconsul");
  const sub = validateConfig(JSON.parse(`{"subVars": {"__proto__": "x", "A": "1"}}`), "f");
  assert.deepEqual(Object.entries(sub.config.subVars), [["__proto__", "x"], ["A", "1"]]);
});

Deno.test("loadConfig(): a named config that cannot be read fails naming it; never falls back", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const home = join(dir, "home");
    await Deno.mkdir(home);
    await writeConfigAtomic(join(home, ".powerconsul.conf"), { clusterKey: "fallback" });
    const missing = join(dir, "nope.json");
    for (
      const opts of [
        { env: envFrom({ HOME: home, POWERCONSUL_CONFIG: missing }), required: true },
        { env: envFrom({ HOME: home, POWERCONSUL_CONFIG: missing }), required: false },
        { env: envFrom({ HOME: home }), required: false, flagPath: missing },
        { env: envFrom({ HOME: home }), required: true, flagPath: dir },
      ]
    ) {
      await assert.rejects(
        loadConfig(opts),
        (e: unknown) =>
          e instanceof ConfigError && e.message.includes(opts.flagPath ?? missing) &&
          /does not exist|is a directory/.test(e.message),
        JSON.stringify(opts),
      );
    }
    const found = await loadConfig({ env: envFrom({ HOME: home }), required: true });
    assert.equal(found.config.clusterKey, "fallback", "unnamed: the search still works");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("validateConfig(): the HA timings fit together, with the defaults", async (t) => {
  assert.equal(haTimingProblem(DEFAULTS), null);
  assert.deepEqual(
    [DEFAULTS.checkInterval, DEFAULTS.leaseSeconds, DEFAULTS.takeoverDelay],
    [1, 10, 20],
  );
  assert.deepEqual([DEFAULTS.failoverDamping, DEFAULTS.lockTimeout, DEFAULTS.guardPoll], [
    2,
    30,
    0.5,
  ]);
  const cases: Record<string, [Record<string, unknown>, string]> = {
    "lease too short for the interval": [
      { checkInterval: 5 },
      'f: key "leaseSeconds" (10s) must be at least 2 × "checkInterval" + "httpTimeout" (15s): ' +
      "a lease must outlive two check runs and one slow request",
    ],
    "takeover delay not over the lease": [
      { takeoverDelay: 15 },
      'f: key "takeoverDelay" (15s) must be at least "leaseSeconds" + "checkInterval" + 5s ' +
      "(16s): a standby must wait out the lease of an active it cannot see",
    ],
    "a longer lease needs a longer delay": [
      { leaseSeconds: 30 },
      'f: key "takeoverDelay" (20s) must be at least "leaseSeconds" + "checkInterval" + 5s ' +
      "(36s): a standby must wait out the lease of an active it cannot see",
    ],
    "guard too slow": [
      { guardPoll: 5 },
      'f: key "guardPoll" (5s) must be below 5s: the guard must notice an expired lease ' +
      "inside the fencing margin",
    ],
  };
  for (const [name, [raw, msg]] of Object.entries(cases)) {
    await t.step(name, () => {
      assert.throws(() => validateConfig(raw, "f"), (e: unknown) => (e as Error).message === msg);
    });
  }
  await t.step("raised together they pass", () => {
    const c = validateConfig(
      { checkInterval: 10, leaseSeconds: 30, takeoverDelay: 45, failoverDamping: 0 },
      "f",
    ).config;
    assert.equal(c.takeoverDelay, 45);
    assert.equal(c.failoverDamping, 0);
  });
  await t.step("failoverDamping may be 0, not negative", () => {
    assert.throws(() => validateConfig({ failoverDamping: -1 }, "f"), /failoverDamping/);
  });
});
