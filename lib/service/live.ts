/**
 * The service wrapper's ports and executors against the live agent, the local service manager
 * and the file system (the orchestrators take these as interfaces so unit tests use fakes).
 */
import { toInstance } from "../cluster/health.ts";
import { compileFilter } from "../cluster/role.ts";
import { IdentityCache, LiveFacts } from "../cluster/facts.ts";
import { type ClusterView, readClusterView } from "../cluster/view.ts";
import { casClusterDoc } from "../cluster/write.ts";
import type { Ctx } from "../context.ts";
import { describeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { Executor } from "../plan/apply.ts";
import { liveEffects } from "../plan/live.ts";
import { inspectNoopFile } from "../sys/lockfile.ts";
import { readStates, type Say } from "./actions.ts";
import type { HandlerPorts } from "./handler.ts";
import { roleKeyPrefix, type ServiceArgs } from "./plan.ts";
import type { InitiatorPorts } from "./switch.ts";
import { switchEffects } from "./switch_effects.ts";
import { answerLine } from "./switch_plan.ts";
import { bootNow } from "../ha/lease.ts";

/** The executor for a service action: lines through `say`, each step performed into the log. */
export function serviceExecutor(ctx: Ctx, say: Say, log: Logger, extra = {}): Executor {
  return new Executor({ ...liveEffects(ctx.consul, ctx.runner), ...extra }, {
    dryRun: ctx.flags.dryRun,
    print: (line) => say(line),
    record: (line) => log.info(`step: ${line}`),
  });
}

/** The handler's reads. */
export function handlerPorts(ctx: Ctx, a: ServiceArgs, id: IdentityCache): HandlerPorts {
  return {
    node: () => id.node(),
    readStdin: () => ctx.io.readStdin(),
    kvGet: (key) => ctx.consul.kvGet(key),
    inspectLock: (path) => inspectNoopFile(path),
    readStates: (services) => readStates(ctx, services),
    async role() {
      const view = await readClusterView(
        new LiveFacts(ctx.consul, id),
        ctx.config,
        a.consulService,
      );
      const active = view.decision.role !== "secondary";
      return { active, reason: active ? view.decision.reason : view.placement.reason, view };
    },
    describeError,
    bootNow: () => bootNow().catch(() => null),
  };
}

/** The initiator's reads, and the executor with the switch's effects. */
export async function initiator(
  ctx: Ctx,
  a: ServiceArgs,
  say: Say,
  log: Logger,
): Promise<{ ports: InitiatorPorts; ex: Executor }> {
  const consul = ctx.consul;
  const id = new IdentityCache(consul, ctx.config);
  let view: ClusterView | null = null;
  const ports: InitiatorPorts = {
    view: async () =>
      view = await readClusterView(new LiveFacts(consul, id), ctx.config, a.consulService),
    node: () => id.node(),
    here: () => id.datacenter(),
    datacenters: () => consul.datacenters(),
    async instances() {
      const filter = compileFilter(ctx.config.serviceFilter);
      const dcs = await consul.datacenters();
      const all = await Promise.all(dcs.map((dc) => consul.serviceHealth(a.consulService, { dc })));
      return all.flat().map(toInstance).filter((i) => !filter || filter.test(i.node));
    },
    kvGet: (key, dc) => consul.kvGet(key, dc === undefined ? {} : { dc }),
    kvList: async (prefix, dc) =>
      (await consul.kvList(prefix, dc === undefined ? {} : { dc })).entries,
    now: () => performance.now(),
    describeError,
  };
  const prefix = roleKeyPrefix(ctx.config.servicePrefix, a.consulService);
  const fx = switchEffects({
    kv: {
      sessionCreate: (o) => consul.sessionCreate(o),
      sessionRenew: (sid) => consul.sessionRenew(sid),
      sessionDestroy: (sid) => consul.sessionDestroy(sid),
      kvPut: (k, v, o) => consul.kvPut(k, v, o),
      kvGet: (k) => consul.kvGet(k),
      kvDelete: (k, o) => consul.kvDelete(k, o),
      kvList: (p, o) => consul.kvList(p, o),
    },
    node: await id.node(),
    now: () => performance.now(),
    onAnswer: (key, value, ms) => {
      const l = answerLine(prefix, a.name, key, value, ms);
      say(l.line, l.ok ? "info" : "error");
    },
    async clusterDoc(step) {
      if (view === null || view.key !== step.key) throw new Error("no cluster document read");
      const out = await casClusterDoc(consul, view, JSON.parse(step.value), id);
      log.info(`document write: ${out.notes.join("; ")}`);
      return out;
    },
  });
  return { ports, ex: serviceExecutor(ctx, say, log, fx) };
}
