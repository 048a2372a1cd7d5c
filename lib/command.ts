/** What a command module exports (cmd/<name>.ts); the registry in cmd/mod.ts loads it lazily. */
import type { Io } from "./context.ts";

export interface Command {
  name: string;
  summary: string;
  help: string;
  /** argv without the command word; global flags may appear anywhere in it. */
  run(argv: string[], io: Io): Promise<number>;
  /** Exit code for errors escaping run() (check: 3, others: by error type). */
  errorCode?: number;
}
