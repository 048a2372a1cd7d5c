/**
 * What a command module exports (cmd/<name>.ts), and the work every command shares, done once:
 * parse argv against the command's options plus the global ones, read the global flags, and
 * answer `--help` with the command's own help text. The registry (cmd/mod.ts) loads a command
 * lazily and calls `runCommand`; a command never imports another command.
 */
import { type GlobalFlags, globalFlags, type OptionSpecs, parseArgv, type Parsed } from "./args.ts";
import type { Io } from "./context.ts";
import { Exit } from "./exit_codes.ts";

export interface Command {
  name: string;
  /** The whole `--help` text. (The one-line summary lives in the registry, written once.) */
  help: string;
  /** The command's own options; the global ones are added to them. */
  options: OptionSpecs;
  /** argv already parsed; global flags may appear anywhere in it. Not called for --help. */
  run(p: Parsed, g: GlobalFlags, io: Io): Promise<number>;
  /** Exit code for errors escaping run() (check: 3, others: by error type). */
  errorCode?: number;
}

/** Parse, read the global flags, print the help on --help, else run. */
export async function runCommand(c: Command, argv: readonly string[], io: Io): Promise<number> {
  const p = parseArgv(argv, c.options);
  const g = globalFlags(p);
  if (g.help) {
    io.out(c.help);
    return Exit.OK;
  }
  return await c.run(p, g, io);
}
