/** `powerconsul config bootstrap|show|check`. */
import { type Effects, Executor } from "../lib/plan/apply.ts";
import { type GlobalFlags, type Parsed, required } from "../lib/args.ts";
import {
  bootstrapPath,
  type Config,
  loadConfig,
  validateConfig,
  writeConfigAtomic,
} from "../lib/config.ts";
import { type Io, makeContext } from "../lib/context.ts";
import { ConfigError, describeError, UsageError } from "../lib/errors.ts";
import { Exit } from "../lib/exit_codes.ts";
import { parseClusterDoc } from "../lib/cluster/doc.ts";
import { clusterPrefixFor } from "../lib/cluster/facts.ts";
import { sandboxLines } from "../lib/config_check.ts";
import denoJson from "../deno.json" with { type: "json" };
import type { Command } from "../lib/command.ts";

const help = `Usage: powerconsul config <bootstrap|show|check> [options]

  bootstrap -C '<json>'   validate the JSON and write it (mode 0600, atomically) to --config
                          or ~/.powerconsul.conf
  show                    print the effective configuration and where each value came from
  check                   validate the config, check that every path it names is one the
                          binary may use, reach the agent, test the token, and parse every
                          cluster document under clusterKey

Example: powerconsul config bootstrap -C '{"clusterKey":"cluster/prod","serviceFilter":"^prod-"}'
`;

/** `config bootstrap` needs one effect only: writing the file. */
const configEffects: Effects = {
  kvPut: () => Promise.reject(new Error("no Consul writes in config bootstrap")),
  setTags: () => Promise.reject(new Error("no Consul writes in config bootstrap")),
  run: () => Promise.reject(new Error("no programs in config bootstrap")),
  lockFile: () => Promise.reject(new Error("no lock files in config bootstrap")),
  sleep: () => Promise.resolve(),
  configFile: (s) => writeConfigAtomic(s.path, s.config),
};

export const command: Command = {
  name: "config",
  help,
  options: { json: { type: "string", short: "C" } },
  async run(p: Parsed, g: GlobalFlags, io: Io): Promise<number> {
    const sub = p.positionals[0];
    switch (sub) {
      case "bootstrap": {
        const text = required(p, "json", "C");
        let raw: unknown;
        try {
          raw = JSON.parse(text);
        } catch (e) {
          throw new ConfigError(`-C: invalid JSON (${(e as Error).message})`);
        }
        const { warnings } = validateConfig(raw, "-C");
        for (const w of warnings) io.err(`powerconsul: warning: ${w}\n`);
        const path = bootstrapPath(g.config, io.env);
        const ex = new Executor(configEffects, {
          dryRun: g.dryRun,
          print: (l) => io.out(`dry-run: ${l}\n`),
        });
        const o = await ex.apply({
          kind: "config-file",
          path,
          config: raw as Record<string, unknown>,
        });
        if (o.error) throw o.error;
        if (!o.dryRun) io.out(`wrote ${path}\n`);
        return Exit.OK;
      }
      case "show": {
        const opts: Parameters<typeof loadConfig>[0] = { env: io.env, required: false };
        if (g.config) opts.flagPath = g.config;
        if (g.node) opts.nodeFlag = g.node;
        const loaded = await loadConfig(opts);
        for (const w of loaded.warnings) io.err(`powerconsul: warning: ${w}\n`);
        if (g.output === "json") {
          io.out(
            JSON.stringify(
              { path: loaded.path, config: loaded.config, sources: loaded.sources },
              null,
              2,
            ) +
              "\n",
          );
          return Exit.OK;
        }
        io.out(`# file: ${loaded.path ?? "(none found; defaults)"}\n`);
        for (const [k, v] of Object.entries(loaded.config)) {
          io.out(`${k} = ${JSON.stringify(v)}  (${loaded.sources[k as keyof Config]})\n`);
        }
        return Exit.OK;
      }
      case "check": {
        const ctx = await makeContext(io, g);
        const log = ctx.logger("config.log", "config", "-");
        let failed = 0;
        const line = (ok: boolean, what: string, note = false) => {
          if (!ok) failed++;
          io.out(`${note ? "note  " : ok ? "ok    " : "FAILED"} ${what}\n`);
          (ok ? log.info : log.warn).call(log, what);
        };
        line(true, `config ${ctx.loaded.path} is valid`);
        for (const l of sandboxLines({ ...ctx, env: io.env, lockDirs: lockDirs() })) {
          line(l.ok, l.what, l.note);
        }
        try {
          const self = await ctx.consul.agentSelf();
          line(
            true,
            `agent ${ctx.conn.baseUrl} answers: node ${self.node}, datacenter ${self.datacenter}`,
          );
        } catch (e) {
          line(false, describeError(e));
          return Exit.UNKNOWN;
        }
        const prefix = clusterPrefixFor(ctx.config);
        if (prefix !== null) {
          try {
            const { entries } = await ctx.consul.kvList(prefix);
            line(true, `token can read ${prefix} (${entries.length} cluster documents)`);
            for (const e of entries) {
              try {
                parseClusterDoc(e.value ?? "");
                line(true, `cluster document ${e.key} parses`);
              } catch (err) {
                line(false, `cluster document ${e.key}: ${describeError(err)}`);
              }
            }
          } catch (e) {
            line(false, describeError(e));
          }
        } else {
          line(true, "no clusterKey: every service is standalone");
        }
        return failed === 0 ? Exit.OK : Exit.FAILED;
      }
      default:
        throw new UsageError(
          sub
            ? `unknown config subcommand "${sub}"`
            : "missing subcommand: bootstrap, show or check",
        );
    }
  },
};

/** The lock directories of the binary's permission set (its write paths named "lock"). */
function lockDirs(): string[] {
  const set = (denoJson as { permissions?: { powerconsul?: { write?: string[] } } }).permissions;
  return (set?.powerconsul?.write ?? []).filter((p) => /lock/.test(p));
}
