/**
 * The live cluster view for code that holds a Consul client (a thin wrapper over
 * lib/cluster/view.ts with the agent as the facts source).
 */
import type { Config } from "../config.ts";
import type { ConsulClient } from "../consul/client.ts";
import { type IdentityCache, LiveFacts } from "./facts.ts";
import type { TakeoverStore } from "./takeover_store.ts";
import { type ClusterView, readClusterView } from "./view.ts";

export { clusterKeyFor, IdentityCache } from "./facts.ts";
export type { ClusterView } from "./view.ts";
export { casClusterDoc, flipFor, unlockFor, type WriteOutcome } from "./write.ts";

/**
 * The live view of a service. Throws on any unknown state. A standby's takeover memory is
 * read here, never written: only the check keeps it (lib/check/run.ts).
 */
export function resolveCluster(
  consul: ConsulClient,
  config: Config,
  consulService: string,
  id: IdentityCache,
  store?: TakeoverStore,
): Promise<ClusterView> {
  return readClusterView(new LiveFacts(consul, id, store), config, consulService);
}
