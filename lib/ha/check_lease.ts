/**
 * The check's lease step, kept apart from the rest of the check: after the view is read, renew
 * the lease (and the heartbeat) when lib/ha/renew.ts says so; when the reads failed for want of a
 * server, the outage rule. Failures here are logged and never change the check's answer.
 */
import { IdentityCache, LiveFacts } from "../cluster/facts.ts";
import { type ClusterView, readClusterView } from "../cluster/view.ts";
import type { Config } from "../config.ts";
import type { ConsulClient } from "../consul/client.ts";
import { ConsulError } from "../consul/http.ts";
import { describeError } from "../errors.ts";
import type { Executor } from "../plan/apply.ts";
import { fenceSentence, type Lease, leaseId, type Now, readFence, readLease } from "./lease.ts";
import { type LeasePlan, nodeHealthy, planFailsafe, planLease, planWithdraw } from "./renew.ts";

type Log = { info(l: string): void; warn(l: string): void };

async function apply(ex: Executor, plan: LeasePlan, previous: Lease | null, log: Log) {
  if (!plan.renew) return;
  let lease = plan.lease;
  if (plan.heartbeat) {
    const o = await ex.apply(plan.heartbeat);
    // a heartbeat that did not land is not recorded: the next run tries again
    if (!o.ok && lease.lease) {
      lease = { ...lease, lease: { ...lease.lease, heartbeatAt: previous?.heartbeatAt ?? null } };
    }
  }
  const o = await ex.apply(lease);
  if (!o.ok) log.warn(`lease not renewed: ${o.detail}`);
}

/** After a successful view read. */
export async function renewInCheck(
  consul: Pick<ConsulClient, "nodeHealth">,
  config: Config,
  ex: Executor,
  consulService: string,
  view: ClusterView,
  probed: unknown,
  start: Now | null,
  log: Log,
): Promise<void> {
  if (start === null) return;
  if (view.placement.kind === "standby") {
    const previous = await readLease(leaseId(consulService, view.node)).catch(() => null);
    const withdraw = planWithdraw(view, previous, {
      consulService,
      leaseSeconds: config.leaseSeconds,
      servicePrefix: config.servicePrefix,
    });
    if (withdraw) {
      const o = await ex.apply(withdraw);
      log.warn(`lease withdrawn (the servers list this node standby): ${o.detail}`);
    }
    return;
  }
  if (view.placement.kind !== "active") return;
  let healthy: boolean | null = null;
  try {
    healthy = nodeHealthy(await consul.nodeHealth(view.node));
  } catch (e) {
    log.warn(`lease: this node's health could not be read: ${describeError(e)}`);
  }
  const id = leaseId(consulService, view.node);
  const previous = await readLease(id).catch(() => null);
  const plan = planLease(view, probed, healthy, start, previous, {
    consulService,
    leaseSeconds: config.leaseSeconds,
    servicePrefix: config.servicePrefix,
  });
  if (!plan.renew) log.info(`lease not renewed: ${plan.why}`);
  await apply(ex, plan, previous, log);
}

/** While a lock or noop file holds the check: the same renewal, with the hold as the probe. */
export async function renewWhileHeld(
  ctx: { consul: ConsulClient; config: Config },
  ex: Executor,
  consulService: string,
  held: string,
  start: Now | null,
  log: Log,
): Promise<void> {
  if (start === null || ctx.config.clusterKey === null) return;
  try {
    const id = new IdentityCache(ctx.consul, ctx.config);
    const view = await readClusterView(new LiveFacts(ctx.consul, id), ctx.config, consulService);
    await renewInCheck(ctx.consul, ctx.config, ex, consulService, view, held, start, log);
  } catch (e) {
    log.info(`lease not renewed while held: ${describeError(e)}`);
  }
}

/** After a failed view read: the outage rule (serverOutage "failsafe" only). */
export async function failsafeInCheck(
  consul: Pick<ConsulClient, "agentMembers">,
  config: Config,
  ex: Executor,
  consulService: string,
  node: string | null,
  error: unknown,
  start: Now | null,
  log: Log,
): Promise<void> {
  if (config.serverOutage !== "failsafe" || start === null || node === null) return;
  // Without servers an agent answers "no server" or holds the request until it times out; the
  // members list, not the error, is what the rule trusts.
  if (!(error instanceof ConsulError) || (error.kind !== "no-server" && error.kind !== "timeout")) {
    return;
  }
  const previous = await readLease(leaseId(consulService, node)).catch(() => null);
  const members = await consul.agentMembers().catch(() => null);
  const plan = planFailsafe("failsafe", previous, members, start, {
    consulService,
    leaseSeconds: config.leaseSeconds,
    servicePrefix: config.servicePrefix,
  });
  log.warn(`server outage: ${plan.renew ? "lease extended" : "lease not extended"}: ${plan.why}`);
  await apply(ex, plan, previous, log);
}

/** "; fenced: …" for the check's message, or "". */
export async function fenceNote(consulService: string, node: string | null): Promise<string> {
  if (!node) return "";
  const m = await readFence(leaseId(consulService, node)).catch(() => null);
  return m ? `; ${fenceSentence(m)}` : "";
}
