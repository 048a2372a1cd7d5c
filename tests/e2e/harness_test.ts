// Acceptance tests for the test harness itself: real agents, proxy, init scripts.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import {
  harnessRoot,
  liveHarnessProcesses,
  startCluster,
  stopLeaseGuards,
  waitFor,
} from "../harness/consul.ts";
import { closedPort, startProxy, startStallServer } from "../harness/proxy.ts";
import {
  chown,
  ensureUser,
  installInitScript,
  sandboxDirs,
  uniqueName,
  writeConfig,
} from "../harness/system.ts";

interface Member {
  Name: string;
  Status: number;
}

async function json<T>(r: Response): Promise<T> {
  assert.ok(r.ok, `HTTP ${r.status} from ${r.url}`);
  return await r.json() as T;
}

async function sh(argv: string[]): Promise<{ code: number; out: string }> {
  const o = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(20_000),
  }).output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

Deno.test({
  name: "harness: server + 2 clients come up, all see 3 alive members, close leaves nothing",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const t0 = performance.now();
    const cluster = await startCluster({ clients: 2 });
    const upMs = Math.round(performance.now() - t0);
    try {
      assert.equal(cluster.agents.length, 3);
      assert.equal(cluster.server, cluster.agents[0]);
      assert.deepEqual(cluster.agents.map((a) => a.role), ["server", "client", "client"]);
      assert.equal(cluster.netAllow, cluster.agents.map((a) => a.httpAddr).join(","));
      assert.match(cluster.server.name, new RegExp(`^pc${cluster.id}-server1$`));
      assert.ok(existsSync(cluster.dir));
      for (const a of cluster.agents) {
        assert.match(a.ip, /^127\.\d+\.\d+\.\d+$/);
        assert.equal(a.url, `http://${a.httpAddr}`);
        const members = await json<Member[]>(await a.api("/v1/agent/members"));
        assert.equal(members.filter((m) => m.Status === 1).length, 3, `${a.name} members`);
        assert.ok(existsSync(a.logFile));
      }
      assert.equal((await liveHarnessProcesses(cluster.id)).length, 3);
      // the agent log really is the agent's output
      assert.match(cluster.server.logTail(200), /Consul agent running|agent: Synced node info/);
    } finally {
      await cluster.close();
    }
    await cluster.close(); // idempotent
    assert.deepEqual(await liveHarnessProcesses(cluster.id), []);
    assert.equal(existsSync(cluster.dir), false);
    assert.ok(cluster.dir.startsWith(harnessRoot() + "/"));
    // deno-lint-ignore no-console
    console.log(`3-agent cluster up in ${upMs} ms`);
  },
});

Deno.test({
  name: "harness: a client stops, restarts and rejoins; reload picks up a service definition",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using cluster = await startCluster({ clients: 1 });
    const node = cluster.agents[1]!;
    await node.stop();
    assert.equal(node.running(), false);
    await node.kill(); // no-op on a stopped agent
    await node.start();
    assert.equal(node.running(), true);
    await Deno.writeTextFile(
      `${node.configDir}/svc.json`,
      JSON.stringify({ service: { name: "web", port: 80 } }),
    );
    await node.reload();
    const services = await json<Record<string, unknown>>(await node.api("/v1/agent/services"));
    assert.ok("web" in services);
    await waitFor("web in the catalog", async () => {
      const list = await json<unknown[]>(await cluster.server.api("/v1/catalog/service/web"));
      return list.length === 1;
    });
  },
});

Deno.test({
  name: "harness: two datacenters joined over WAN; a KV write with ?dc=dc2 lands in dc2",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await startCluster({ dc2: {} });
    try {
      assert.deepEqual(cluster.agents.map((a) => a.dc), ["dc1", "dc2"]);
      const [dc1, dc2] = cluster.agents as [typeof cluster.server, typeof cluster.server];
      const dcs = await json<string[]>(await dc1.api("/v1/catalog/datacenters"));
      assert.deepEqual([...dcs].sort(), ["dc1", "dc2"]);
      const put = await dc1.api("/v1/kv/harness/where?dc=dc2", { method: "PUT", body: "dc2!" });
      assert.equal(await json<boolean>(put), true);
      const there = await dc2.api("/v1/kv/harness/where?raw");
      assert.equal(await there.text(), "dc2!");
      const here = await dc1.api("/v1/kv/harness/where");
      await here.body?.cancel();
      assert.equal(here.status, 404);
    } finally {
      await cluster.close();
    }
    assert.deepEqual(await liveHarnessProcesses(cluster.id), []);
    assert.equal(existsSync(cluster.dir), false);
  },
});

Deno.test({
  name: "harness: ACL cluster denies anonymous reads and accepts the master token",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using cluster = await startCluster({ acl: true });
    assert.ok(cluster.aclToken);
    const anon = await fetch(`${cluster.server.url}/v1/kv/x`);
    await anon.body?.cancel();
    assert.equal(anon.status, 403);
    const withToken = await cluster.server.api("/v1/kv/x");
    await withToken.body?.cancel();
    assert.equal(withToken.status, 404);
    await cluster.server.reload(); // reload works with the token
  },
});

Deno.test({
  name: "harness: agent env reaches script checks",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using cluster = await startCluster({
      env: (a) => ({ PC_HARNESS_AGENT: `${a.name}@${a.httpAddr}` }),
    });
    const a = cluster.server;
    assert.deepEqual(a.env, { PC_HARNESS_AGENT: `${a.name}@${a.httpAddr}` });
    const reg = await a.api("/v1/agent/check/register", {
      method: "PUT",
      body: JSON.stringify({
        Name: "envcheck",
        Args: ["/bin/sh", "-c", 'echo "$PC_HARNESS_AGENT"'],
        Interval: "1s",
      }),
    });
    await reg.body?.cancel();
    assert.equal(reg.status, 200);
    const out = await waitFor("the script check output in the catalog", async () => {
      const checks = await json<{ CheckID: string; Output: string }[]>(
        await a.api(`/v1/health/node/${a.name}`),
      );
      return checks.find((c) => c.CheckID === "envcheck" && c.Output !== "")?.Output;
    });
    assert.equal(out.trim(), `${a.name}@${a.httpAddr}`);
  },
});

Deno.test({
  name: "harness: agents die with the process that started them; the next start prunes the dir",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const harness = new URL("../harness/consul.ts", import.meta.url).href;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { startCluster } from ${JSON.stringify(harness)};
         const c = await startCluster({});
         console.log(c.id);
         setInterval(() => {}, 1000);`,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    let id = "";
    try {
      const dec = new TextDecoder();
      for await (const chunk of child.stdout) {
        id += dec.decode(chunk);
        if (id.includes("\n")) break;
      }
      id = id.trim();
      assert.match(id, /^[0-9a-f]{4}$/);
      assert.equal((await liveHarnessProcesses(id)).length, 1);
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
    await waitFor("the orphaned agent to die", async () => {
      return (await liveHarnessProcesses(id)).length === 0;
    }, { timeoutMs: 5000 });
    const staleDir = `${harnessRoot()}/${id}`;
    assert.ok(existsSync(staleDir));
    await using _cluster = await startCluster({});
    assert.equal(existsSync(staleDir), false);
  },
});

Deno.test("harness: waitFor returns the value, and times out with the context", async () => {
  let n = 0;
  assert.equal(await waitFor("n to reach 3", () => Promise.resolve(++n >= 3 && n)), 3);
  assert.equal(await waitFor("zero", () => Promise.resolve(0)), 0);
  await assert.rejects(
    waitFor("never", () => Promise.resolve(false), {
      timeoutMs: 300,
      intervalMs: 50,
      onTimeout: () => "\ncontext here",
    }),
    /^Error: timed out after 0.3s waiting for never\ncontext here$/,
  );
  await assert.rejects(
    waitFor("hung attempt", () => new Promise<never>(() => {}), { timeoutMs: 200 }),
    /timed out after 0.2s waiting for hung attempt/,
  );
});

Deno.test("harness: proxy forwards and counts, stall server hangs, closed port refuses", async () => {
  // a tiny HTTP target
  const target = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    if (new URL(req.url).pathname !== "/pieces") {
      return new Response(`hello ${new URL(req.url).pathname}`);
    }
    // two pieces, the second once the first has surely left
    const body = new ReadableStream<Uint8Array>({
      async start(c) {
        c.enqueue(new TextEncoder().encode("one "));
        await new Promise((r) => setTimeout(r, 200));
        c.enqueue(new TextEncoder().encode("two"));
        c.close();
      },
    });
    return new Response(body);
  });
  const targetAddr = `127.0.0.1:${target.addr.port}`;
  const proxy = startProxy({ target: targetAddr });
  const stall = startStallServer();
  try {
    for (const p of ["/a", "/b", "/c"]) {
      const r = await fetch(`http://${proxy.addr}${p}`, { signal: AbortSignal.timeout(5000) });
      assert.equal(await r.text(), `hello ${p}`);
    }
    const put = await fetch(`http://${proxy.addr}/kv`, {
      method: "PUT",
      body: "GET /not-a-request HTTP/1.1 inside a body",
      signal: AbortSignal.timeout(5000),
    });
    assert.equal(await put.text(), "hello /kv");
    assert.equal(proxy.requests, 4);
    assert.ok(proxy.connections >= 1);

    // delay mode: the answer comes late (a client that gives up first sees no answer), but
    // it comes
    proxy.mode = "delay";
    proxy.delayMs = 1000;
    await assert.rejects(
      fetch(`http://${proxy.addr}/early`, { signal: AbortSignal.timeout(100) }),
      (e: Error) => e.name === "TimeoutError",
    );
    const late = await fetch(`http://${proxy.addr}/d`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(await late.text(), "hello /d");
    // an answer the target writes in two pieces is held once, not once per piece
    const started = performance.now();
    const pieces = await fetch(`http://${proxy.addr}/pieces`, {
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(await pieces.text(), "one two");
    const took = performance.now() - started;
    assert.ok(took >= 1000 && took < 1900, `held ${Math.round(took)} ms for a 1000 ms delay`);

    // stall mode switched at run time: a fetch times out
    proxy.mode = "stall";
    await assert.rejects(
      fetch(`http://${proxy.addr}/s`, { signal: AbortSignal.timeout(500) }),
      (e: Error) => e.name === "TimeoutError",
    );
    assert.equal(proxy.requests, 8);

    await assert.rejects(
      fetch(`http://${stall.addr}/v1/agent/self`, { signal: AbortSignal.timeout(500) }),
      (e: Error) => e.name === "TimeoutError",
    );
    await waitFor("the stall server to see the request", () => Promise.resolve(stall.requests));
    assert.equal(stall.connections, 1);

    const closed = await closedPort();
    await assert.rejects(
      fetch(`http://${closed}/`, { signal: AbortSignal.timeout(2000) }),
      (e: Error) => e.name === "TypeError" && /refused/i.test(String(e.cause ?? e.message)),
    );
  } finally {
    await proxy.close();
    await stall.close();
    await target.shutdown();
  }
});

Deno.test("harness: init script works through service(8); status codes follow LSB", async () => {
  const svc = await installInitScript(uniqueName("pcharness"));
  try {
    assert.equal((await sh(["service", svc.name, "status"])).code, 3);
    const started = await sh(["service", svc.name, "start"]);
    assert.equal(started.code, 0, started.out);
    assert.equal(await svc.isRunning(), true);
    assert.equal((await sh(["service", svc.name, "status"])).code, 0);
    assert.equal((await sh(["service", svc.name, "start"])).code, 0); // idempotent
    const procs = await sh(["/usr/lib/nagios/plugins/check_procs", "-c", "1:1", "-a", svc.marker]);
    assert.equal(procs.code, 0, procs.out);
    assert.equal((await sh(["service", svc.name, "stop"])).code, 0);
    assert.equal(await svc.isRunning(), false);
    assert.equal((await sh(["service", svc.name, "status"])).code, 3);

    await svc.start();
    Deno.kill(Number(Deno.readTextFileSync(svc.pidFile)), "SIGKILL");
    await waitFor("status to report a dead daemon", async () => {
      return (await sh(["service", svc.name, "status"])).code === 1;
    });

    await svc.setBehaviour({ failStart: true });
    assert.equal((await sh(["service", svc.name, "start"])).code, 1);
    await svc.setBehaviour({ hangStatus: true });
    const hung = await new Deno.Command("service", {
      args: [svc.name, "status"],
      stdout: "null",
      stderr: "null",
      signal: AbortSignal.timeout(300),
    }).output();
    assert.equal(hung.success, false);
  } finally {
    await svc.remove();
  }
  assert.equal(existsSync(svc.script), false);
  assert.equal(existsSync(svc.pidFile), false);
  assert.notEqual((await sh(["service", svc.name, "status"])).code, 0);
});

Deno.test("harness: sandbox dirs, config file, user and chown", async () => {
  await using dirs = await sandboxDirs("Harness Self");
  for (const d of [dirs.configDir, dirs.logDir, dirs.crontabDir, dirs.lockDir]) {
    assert.ok(Deno.statSync(d).isDirectory, d);
  }
  assert.match(dirs.configDir, /^\/etc\/powerconsul\/test-harness-self-[0-9a-f]{8}$/);
  assert.match(dirs.lockDir, /^\/var\/lock\/powerconsul-test-/);
  const path = await writeConfig(dirs.configDir, { clusterKey: "clusters" });
  assert.deepEqual(JSON.parse(Deno.readTextFileSync(path)), { clusterKey: "clusters" });
  await ensureUser("pcharness");
  await ensureUser("pcharness");
  const tab = `${dirs.crontabDir}/pcharness`;
  Deno.writeTextFileSync(tab, "* * * * * true\n");
  await chown(tab, "pcharness", "crontab");
  const st = Deno.statSync(tab);
  assert.notEqual(st.uid, 0);
  assert.notEqual(st.gid, 0);
  await dirs.remove();
  assert.equal(existsSync(dirs.configDir), false);
  assert.equal(existsSync(dirs.logDir), false);
});

Deno.test("harness: a cluster's sweep removes its nodes' takeover state and role memory, and only theirs", async () => {
  const mine = uniqueName("pcsw-mine");
  const other = uniqueName("pcsw-other");
  const files = [
    `/run/powerconsul/state/web@${mine}.json`,
    `/run/powerconsul/state/web@${other}.json`,
    `/run/powerconsul/role/${mine}/web`,
    `/run/powerconsul/role/${other}/web`,
    `/run/powerconsul/lease/web@${mine}`,
  ];
  try {
    for (const f of files) {
      await Deno.mkdir(f.slice(0, f.lastIndexOf("/")), { recursive: true, mode: 0o700 });
      await Deno.writeTextFile(f, "{}\n");
    }
    stopLeaseGuards([mine]);
    assert.deepEqual(files.map((f) => existsSync(f)), [false, true, false, true, false]);
    assert.equal(existsSync(`/run/powerconsul/role/${mine}`), false, "the node's directory too");
  } finally {
    stopLeaseGuards([other]);
  }
  assert.deepEqual(files.map((f) => existsSync(f)), [false, false, false, false, false]);
});
