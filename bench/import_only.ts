/**
 * Load what `powerconsul check` loads (the entry's imports and the check command's module
 * graph) without running anything: startup plus module loading.
 */
import { COMMANDS } from "../cmd/mod.ts";
import "../lib/env.ts";

await COMMANDS.check!.load();
