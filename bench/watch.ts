/**
 * Section 3: `watch critical` fed 1, 100, 10,000 and 50,000 health checks on stdin, as a Consul
 * checks watch would send them; three of them (one for the 1-entry payload) belong to the local
 * node, and their triggers have no KV action, so what is measured is reading, validating,
 * selecting and resolving — not the actions.
 *
 * @module
 */
import { join } from "node:path";
import { writeConfig } from "../tests/harness/system.ts";
import { LAUNCHER, type World } from "./lib/env.ts";
import { measure, stat } from "./lib/measure.ts";
import { observe } from "./lib/observe.ts";
import type { WatchRow } from "./lib/results.ts";
import { payload } from "./lib/payload.ts";

const SIZES = [1, 100, 10_000, 50_000];
export async function watchSection(
  w: World,
  runs: number,
  say: (s: string) => void,
): Promise<WatchRow[]> {
  const probe = await measure({ argv: [LAUNCHER, "watch", "--help"] }, w.tmp);
  if (probe.code !== 0 || /not implemented/i.test(probe.stdout + probe.stderr)) {
    return SIZES.map((entries) => ({
      entries,
      local: Math.min(3, entries),
      bytes: 0,
      fired: 0,
      wallMs: null,
      rssMiB: null,
      requests: null,
      unavailable: "cmd/watch.ts not implemented yet",
    }));
  }
  const node = w.n2;
  const dir = join(w.dirs.configDir, "watch");
  await Deno.mkdir(dir, { recursive: true });
  const config = await writeConfig(dir, { logDir: w.dirs.logDir, clusterKey: "cluster" });
  const argv = [LAUNCHER, "watch", "critical", "--http-addr", node.addr, "--config", config];
  const rows: WatchRow[] = [];
  for (const entries of SIZES) {
    const { bytes, local } = payload(entries, node.agent.name);
    const n = entries >= 50_000 ? Math.max(5, Math.ceil(runs / 3)) : runs;
    const walls: number[] = [];
    const rss: number[] = [];
    const reqs: number[] = [];
    const first: number[] = [];
    let fired = 0;
    let failure = "";
    for (let i = 0; i < n + 1; i++) {
      const s = await observe(w, node, argv, { CONSUL_INDEX: String(100 + i) }, bytes);
      if (s.code !== 0) failure = `exit ${s.code}: ${s.stderr.trim().split("\n")[0] ?? ""}`;
      fired = s.stdout.trim() === "" ? 0 : s.stdout.trim().split("\n").length;
      if (i === 0) continue; // warm-up
      walls.push(s.wallMs);
      rss.push(s.rssKb / 1024);
      reqs.push(s.requests);
      first.push(s.toFirstMs);
    }
    const row: WatchRow = {
      entries,
      local,
      bytes: bytes.length,
      fired,
      wallMs: stat(walls),
      rssMiB: stat(rss),
      requests: stat(reqs),
      toFirstRequestMs: stat(first),
    };
    if (entries === 10_000) row.targetMs = 150;
    if (failure) row.unavailable = `run failed: ${failure}`;
    rows.push(row);
    say(
      `  ${entries} entries: wall ${row.wallMs!.median.toFixed(0)} ms, ` +
        `rss ${row.rssMiB!.median.toFixed(1)} MiB, ${fired} fired, ` +
        `${row.requests!.median} requests${failure ? ` (${failure})` : ""}`,
    );
  }
  return rows;
}
