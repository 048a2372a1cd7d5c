import type { Io } from "../lib/context.ts";
import { Exit } from "../lib/exit_codes.ts";
import type { Command } from "./mod.ts";

const help = "Usage: powerconsul status (not implemented yet)\n";

export const command: Command = {
  name: "status",
  summary: "",
  help,
  run(_argv: string[], io: Io): Promise<number> {
    io.err("powerconsul status: not implemented yet\n");
    return Promise.resolve(Exit.FAILED);
  },
};
