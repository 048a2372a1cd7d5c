import type { Io } from "../lib/context.ts";
import { Exit } from "../lib/exit_codes.ts";
import type { Command } from "./mod.ts";

const help = "Usage: powerconsul watch (not implemented yet)\n";

export const command: Command = {
  name: "watch",
  summary: "",
  help,
  run(_argv: string[], io: Io): Promise<number> {
    io.err("powerconsul watch: not implemented yet\n");
    return Promise.resolve(Exit.FAILED);
  },
};
