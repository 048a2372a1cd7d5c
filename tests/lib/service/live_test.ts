// The service wrapper's live ports, over a fake Consul client: what they read and how.
import assert from "node:assert/strict";
import { IdentityCache } from "../../../lib/cluster/facts.ts";
import type { ConsulClient, KvEntry } from "../../../lib/consul/client.ts";
import type { Ctx } from "../../../lib/context.ts";
import type { Logger } from "../../../lib/log.ts";
import type { ServiceArgs } from "../../../lib/service/args.ts";
import { handlerPorts, initiator } from "../../../lib/service/live.ts";
import { config, kvEntry } from "../../_support/cluster.ts";

const args: ServiceArgs = {
  name: "web",
  action: "start-primary",
  consulService: "websvc",
  services: ["apache2"],
  lockFile: "/run/powerconsul/web.lock",
  lockFileGiven: false,
  abort: false,
};

function fakeConsul(node: string, kv: Record<string, KvEntry>) {
  const health = (n: string, dc: string) => ({
    Node: { Node: n, Address: "", Datacenter: dc },
    Service: { ID: "websvc", Service: "websvc", Tags: null },
    Checks: [],
  });
  return {
    agentSelf: () => Promise.resolve({ node, datacenter: "dc1" }),
    kvGet: (key: string) => Promise.resolve(kv[key] ?? null),
    datacenters: () => Promise.resolve(["dc1", "dc2"]),
    kvList: () => Promise.resolve({ entries: [], index: 1 }),
    agentMembers: () => Promise.resolve([]),
    nodeHealth: () => Promise.resolve([]),
    serviceHealth: (_s: string, o: { dc?: string } = {}) =>
      Promise.resolve(
        o.dc === "dc2"
          ? [health("prod-b1", "dc2")]
          : [health("a1", "dc1"), health("prod-s1", "dc1")],
      ),
  } as unknown as ConsulClient;
}

const ctxFor = (consul: ConsulClient, over: Parameters<typeof config>[0] = {}) =>
  ({
    consul,
    config: config({ clusterKey: "cluster", ...over }),
    flags: { dryRun: false, help: false },
    io: { readStdin: () => Promise.resolve(null) },
    runner: {},
  }) as unknown as Ctx;

const doc = {
  "cluster/websvc": kvEntry("cluster/websvc", { active_nodes: ["a1"], standby_nodes: ["s1"] }),
};

Deno.test("handlerPorts().role(): active or not from the one cluster view", async () => {
  for (
    const [node, active, reason] of [
      ["a1", true, "node a1 is listed active"],
      ["s1", false, "node s1 is listed standby"],
    ] as const
  ) {
    const consul = fakeConsul(node, doc);
    const ctx = ctxFor(consul);
    const ports = handlerPorts(ctx, args, new IdentityCache(consul, ctx.config));
    const role = await ports.role();
    assert.deepEqual([role.active, role.reason], [active, reason]);
    assert.equal(role.view?.node, node);
    assert.equal(await ports.node(), node);
  }
});

Deno.test("initiator(): instances from every datacenter, serviceFilter applied", async () => {
  const consul = fakeConsul("s1", doc);
  const log = { info() {}, warn() {}, error() {}, debug() {} } as unknown as Logger;
  const { ports } = await initiator(
    ctxFor(consul, { serviceFilter: "prod-" }),
    args,
    () => {},
    log,
  );
  assert.deepEqual((await ports.instances()).map((i) => `${i.node}@${i.datacenter}`), [
    "prod-s1@dc1",
    "prod-b1@dc2",
  ]);
  const view = await ports.view();
  assert.equal(view.key, "cluster/websvc");
  assert.equal(view.decision.role, "secondary");
  assert.equal(await ports.here(), "dc1");
});
