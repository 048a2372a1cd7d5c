// The platform under every command, through the dev launcher (the shipped sandbox).
import assert from "node:assert/strict";
import { join } from "node:path";
import { startCluster } from "../harness/consul.ts";
import { startProxy } from "../harness/proxy.ts";
import { kvPut, register } from "../_agent.ts";
import { sandboxDirs, writeConfig } from "../harness/system.ts";
import { cli, LAUNCHER, REPO } from "../_cli.ts";
import { agentTest } from "../_support/agent.ts";

Deno.test("config show into a reader that went away ends quietly (no 'Broken pipe')", async () => {
  await using dirs = await sandboxDirs("pipe");
  const config = await writeConfig(dirs.configDir, { logDir: dirs.logDir });
  // `true` exits without reading: every write of `config show` meets a closed pipe.
  const out = await new Deno.Command("bash", {
    args: [
      "-c",
      `"$0" config show --config "$1" | true; exit "\${PIPESTATUS[0]}"`,
      LAUNCHER,
      config,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.doesNotMatch(stderr, /Broken pipe|os error 32/, stderr);
  assert.equal(out.code, 0, stderr);
});

Deno.test("a named config outside the sandbox's read paths fails naming it and why", async () => {
  const path = join(REPO, ".tmp", `outside-${crypto.randomUUID()}.json`);
  await Deno.mkdir(join(REPO, ".tmp"), { recursive: true });
  await Deno.writeTextFile(path, `{"clusterKey": "c"}`);
  try {
    for (
      const [args, env] of [
        [["config", "show", "--config", path], {}],
        [["config", "show"], { POWERCONSUL_CONFIG: path }],
        [["status", "--config", path], {}],
      ] as const
    ) {
      const r = await cli([...args], { env: { ...env } });
      assert.equal(r.code, 3, r.stdout + r.stderr);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.ok(lines[0]!.includes(path), r.stderr);
      assert.match(lines[0]!, /outside the paths this binary may read/);
      assert.doesNotMatch(r.stdout, /clusterKey/);
    }
  } finally {
    await Deno.remove(path);
  }
});

agentTest(
  "config check fails on a logDir the binary may not write, and on one it cannot",
  async () => {
    await using cluster = await startCluster();
    await using dirs = await sandboxDirs("cfgchk");
    const agent = cluster.server;
    const run = async (logDir: string) => {
      const config = await writeConfig(dirs.configDir, { logDir });
      return await cli(["config", "check", "--config", config], {
        net: cluster.netAllow,
        env: { CONSUL_HTTP_ADDR: agent.httpAddr },
      });
    };
    const ok = await run(dirs.logDir);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /ok +logDir .* is writable/);
    const outside = await run(join(REPO, ".tmp", "logs"));
    assert.equal(outside.code, 1, outside.stdout + outside.stderr);
    assert.match(outside.stdout, /FAILED logDir .* outside the paths this binary may write/);
    await Deno.writeTextFile(join(dirs.logDir, "plain-file"), "");
    const blocked = await run(join(dirs.logDir, "plain-file", "sub"));
    assert.equal(blocked.code, 1, blocked.stdout + blocked.stderr);
    assert.match(blocked.stdout, /FAILED logDir .* cannot be written/);
    const tokenFlag = await cli(
      ["config", "check", "--config", join(dirs.configDir, "config.json"), "--token", "x"],
      { net: cluster.netAllow, env: { CONSUL_HTTP_ADDR: agent.httpAddr } },
    );
    assert.match(tokenFlag.stdout, /note +--token is visible .*CONSUL_HTTP_TOKEN_FILE/);
  },
);

agentTest(
  "an agent address with a path is refused before any request, never read as 'no document'",
  async () => {
    await using cluster = await startCluster();
    await using dirs = await sandboxDirs("addrpath");
    const agent = cluster.server;
    const config = await writeConfig(dirs.configDir, {
      logDir: dirs.logDir,
      clusterKey: "cluster",
    });
    for (
      const args of [["status"], ["service", "web", "status", "-S", "web"], ["config", "check"]]
    ) {
      const r = await cli(
        [...args, "--config", config, "--http-addr", `${agent.httpAddr}/consul`],
        {
          net: cluster.netAllow,
        },
      );
      assert.equal(r.code, 3, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout + r.stderr, /has a path, query or fragment/);
      assert.doesNotMatch(r.stdout + r.stderr, /standalone/);
    }
  },
);

agentTest(
  "behind a slow agent, requests share the command's one deadline instead of one timeout each",
  async () => {
    await using cluster = await startCluster();
    await using dirs = await sandboxDirs("deadline");
    const agent = cluster.server;
    await kvPut(
      agent,
      "cluster/web",
      JSON.stringify({ active_nodes: [agent.name], standby_nodes: [] }),
    );
    await register(agent, { ID: "web", Name: "web", Check: { CheckID: "web-ttl", TTL: "1h" } });
    const configFor = (deadline: number) =>
      writeConfig(dirs.configDir, {
        logDir: dirs.logDir,
        clusterKey: "cluster",
        httpTimeout: 1.5,
        probeTimeout: 1,
        triggerTimeout: 1,
        switchTimeout: 1,
        checkDeadline: deadline,
        commandDeadline: deadline,
      });
    // Every answer arrives 1.3 s late: each request alone is inside httpTimeout; status's requests
    // in a row are not inside a 2 s deadline, nor is the check's first round inside 1 s.
    await using proxy = startProxy({ target: agent.httpAddr, mode: "delay", delayMs: 1300 });
    // [args, deadline s, most requests]: status's requests go one after another and stop at the
    // deadline; the check sends its first wave of four at once (lib/check/run.ts) and nothing
    // after the deadline cuts it
    const cases: [string[], number, number][] = [
      [["status"], 2, 3],
      [["check", "process", "-n", "-c 0:", "-S", "web"], 1, 4],
    ];
    for (const [args, deadline, most] of cases) {
      const config = await configFor(deadline);
      const before = proxy.requests;
      const r = await cli([...args, "--config", config, "--http-addr", proxy.addr], {
        net: `${cluster.netAllow},${proxy.addr}`,
      });
      const shown = `${args[0]}: ${r.stdout}${r.stderr}`;
      if (args[0] === "check") assert.equal(r.code, 3, shown);
      assert.match(r.stdout + r.stderr, /deadline/, shown);
      const made = proxy.requests - before;
      assert.ok(made <= most, `${args[0]}: ${made} requests`);
    }
  },
);

agentTest("a malformed /v1/agent/checks answer is unknown: the trigger runs nothing", async () => {
  await using cluster = await startCluster();
  await using dirs = await sandboxDirs("badchecks");
  const agent = cluster.server;
  const config = await writeConfig(dirs.configDir, {
    logDir: dirs.logDir,
    triggerCooldown: 0,
    triggerBurst: 1000,
  });
  await register(agent, { ID: "web", Name: "web", Check: { CheckID: "web-check", TTL: "1h" } });
  const fail = await agent.api("/v1/agent/check/fail/web-check?note=down", { method: "PUT" });
  await fail.body?.cancel();
  const marker = join(dirs.logDir, "ran");
  await kvPut(agent, "triggers/web/standalone/critical", `/bin/sh -c 'touch "$1"' sh ${marker}`);
  // A front that answers /v1/agent/checks with the wrong shape and passes the rest through.
  let malformed = false;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    if (malformed && url.pathname === "/v1/agent/checks") return new Response("[]");
    const body = req.method === "GET" ? undefined : await req.arrayBuffer();
    const res = await fetch(`http://${agent.httpAddr}${url.pathname}${url.search}`, {
      method: req.method,
      headers: req.headers,
      ...(body ? { body } : {}),
    });
    const headers = new Headers(res.headers);
    headers.delete("content-encoding");
    headers.delete("content-length");
    return new Response(await res.arrayBuffer(), { status: res.status, headers });
  });
  try {
    const front = `127.0.0.1:${server.addr.port}`;
    const payload = JSON.stringify({
      Node: agent.name,
      CheckID: "web-check",
      Name: "web check",
      Status: "critical",
      Output: "down",
      ServiceID: "web",
      ServiceName: "web",
    });
    const run = () =>
      cli(["trigger", "critical", "-s", payload, "--config", config, "--http-addr", front], {
        net: `${cluster.netAllow},${front}`,
      });
    const control = await run();
    assert.equal(control.code, 0, control.stdout + control.stderr);
    assert.ok(Deno.statSync(marker).isFile, "through the front, the trigger runs");
    await Deno.remove(marker);
    malformed = true;
    const r = await run();
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /\/v1\/agent\/checks/);
    assert.throws(() => Deno.statSync(marker), Deno.errors.NotFound, "nothing ran");
  } finally {
    await server.shutdown();
  }
});

agentTest("a trigger's action does not see the ACL token unless passToken is set", async () => {
  await using cluster = await startCluster();
  await using dirs = await sandboxDirs("tokenenv");
  const agent = cluster.server;
  const seen = join(dirs.logDir, "seen");
  await kvPut(
    agent,
    "triggers/web/standalone/critical",
    `/bin/sh -c 'echo "[$CONSUL_HTTP_TOKEN][$CONSUL_HTTP_TOKEN_FILE]" > "$1"' sh ${seen}`,
  );
  const tokenFile = join(dirs.configDir, "token");
  await Deno.writeTextFile(tokenFile, "file-token-1234\n");
  const payload = JSON.stringify({
    Node: agent.name,
    CheckID: "web-check",
    Name: "web check",
    Status: "critical",
    Output: "down",
    ServiceID: "web",
    ServiceName: "web",
  });
  const run = async (passToken: boolean) => {
    const config = await writeConfig(dirs.configDir, {
      logDir: dirs.logDir,
      triggerCooldown: 0,
      triggerBurst: 1000,
      passToken,
    });
    const r = await cli(["trigger", "critical", "-s", payload, "--config", config], {
      net: cluster.netAllow,
      env: {
        CONSUL_HTTP_ADDR: agent.httpAddr,
        CONSUL_HTTP_TOKEN: "env-token-5678",
        CONSUL_HTTP_TOKEN_FILE: tokenFile,
      },
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return (await Deno.readTextFile(seen)).trim();
  };
  assert.equal(await run(false), "[][]");
  assert.equal(await run(true), `[env-token-5678][${tokenFile}]`);
});
