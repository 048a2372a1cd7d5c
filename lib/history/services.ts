/** The services that have a cluster document under clusterKey (for `--all` and history). */
import type { Config } from "../config.ts";
import type { KvEntry } from "../consul/client.ts";
import { ConfigError } from "../errors.ts";
import { clusterPrefixFor } from "../cluster/facts.ts";

export async function servicesWithDocs(
  kv: { kvList(prefix: string): Promise<{ entries: KvEntry[] }> },
  config: Pick<Config, "clusterKey">,
): Promise<string[]> {
  const prefix = clusterPrefixFor(config);
  if (prefix === null) throw new ConfigError("no clusterKey configured: name the service with -S");
  const { entries } = await kv.kvList(prefix);
  return entries.map((e) => e.key.slice(prefix.length)).filter((k) => k !== "" && !k.includes("/"))
    .sort();
}
