/**
 * The command registry: name → one-line summary (written here only) and a lazily loaded
 * handler; lib/command.ts does the work every command shares. Handlers return an exit code and never
 * exit the process; anything they throw becomes one line on stderr and a defined code.
 */
import { GLOBAL_OPTIONS } from "../lib/args.ts";
import { type Command, runCommand } from "../lib/command.ts";
import type { Io } from "../lib/context.ts";
import { describeError, PowerconsulError, UsageError } from "../lib/errors.ts";
import { Exit } from "../lib/exit_codes.ts";
import denoJson from "../deno.json" with { type: "json" };
import { mark } from "../lib/trace.ts";

type Loader = () => Promise<{ command: Command }>;

export const COMMANDS: Record<string, { summary: string; load: Loader }> = {
  check: {
    summary:
      "decide whether a local resource is in the state its cluster role wants (script check)",
    load: () => import("./check.ts"),
  },
  watch: {
    summary: "handle a Consul checks watch: fire triggers for this node's checks (watch handler)",
    load: () => import("./watch.ts"),
  },
  trigger: {
    summary: "run the KV action for one check's service, role and state",
    load: () => import("./trigger.ts"),
  },
  service: {
    summary: "cluster-aware start/stop/restart/status/start-primary for init scripts",
    load: () => import("./service.ts"),
  },
  status: {
    summary: "show cluster documents, roles, health, locks and pending switches",
    load: () => import("./status.ts"),
  },
  guard: {
    summary: "stop the local services when this node's lease runs out",
    load: () => import("./guard.ts"),
  },
  config: {
    summary: "bootstrap, show or check the configuration",
    load: () => import("./config.ts"),
  },
  // Operator controls (history, pause/resume).
  history: {
    summary: "show the recorded role changes (who failed over, when, why)",
    load: () => import("./history.ts"),
  },
  pause: {
    summary: "pause failover automation for a service, cluster-wide (maintenance mode)",
    load: () => import("./pause.ts"),
  },
  resume: {
    summary: "end a pause: failover automation works again",
    load: () => import("./resume.ts"),
  },
  failover: {
    summary: "forced failover onto this node when the actives are confirmed dead",
    load: () => import("./failover.ts"),
  },
};

export const VERSION = denoJson.version;

export function topHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`);
  return `powerconsul ${VERSION} — self-healing and active/standby clustering on Consul

Usage: powerconsul <command> [options]

Commands:
${lines.join("\n")}

Global options (before or after the command words):
  --config PATH       config file (default: $POWERCONSUL_CONFIG, ~/.powerconsul.conf,
                      /etc/powerconsul/config.json)
  --http-addr ADDR    Consul agent (default: $CONSUL_HTTP_ADDR or 127.0.0.1:8500)
  --token TOKEN       ACL token (default: $CONSUL_HTTP_TOKEN_FILE, $CONSUL_HTTP_TOKEN)
  --node NAME         act as this node (default: the agent's node name)
  --dry-run           resolve and print the plan; change nothing, run nothing
  --output json|text  output format where it applies
  -h, --help          help for any command
  --version           print the version

Example: powerconsul check service -s apache2 -S web
Run 'powerconsul <command> --help' for a command's options.
`;
}

/** Index of the command word: the first word that is not a global option or its value. */
function findCommand(argv: string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!;
    if (!w.startsWith("-")) return i;
    const name = w.startsWith("--") ? w.slice(2).split("=")[0]! : "";
    const spec = GLOBAL_OPTIONS[name];
    if (spec?.type === "string" && !w.includes("=")) i++;
  }
  return -1;
}

export async function run(argv: string[], io: Io): Promise<number> {
  const at = findCommand(argv);
  if (at === -1) {
    if (argv.includes("--version")) {
      // GNU style: the version is the last word of the first line.
      io.out(`powerconsul ${VERSION}\ndeno ${Deno.version.deno}\n`);
      return Exit.OK;
    }
    if (argv.includes("--help") || argv.includes("-h")) {
      io.out(topHelp());
      return Exit.OK;
    }
    io.err(topHelp());
    io.err("powerconsul: missing command\n");
    return Exit.USAGE;
  }
  const name = argv[at]!;
  const entry = COMMANDS[name];
  if (!entry) {
    io.err(`powerconsul: unknown command "${name}"; run 'powerconsul --help' for the list\n`);
    return Exit.USAGE;
  }
  const rest = [...argv.slice(0, at), ...argv.slice(at + 1)];
  let command: Command | undefined;
  try {
    command = (await entry.load()).command;
    mark("load");
    return await runCommand(command, rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`powerconsul ${name}: ${e.message}\nRun 'powerconsul ${name} --help' for usage.\n`);
      return command?.errorCode ?? Exit.USAGE;
    }
    io.err(`powerconsul ${name}: ${describeError(e)}\n`);
    if (command?.errorCode !== undefined) return command.errorCode;
    return e instanceof PowerconsulError ? e.exitCode : Exit.UNKNOWN;
  }
}
