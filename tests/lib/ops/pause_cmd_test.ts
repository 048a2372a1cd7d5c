import assert from "node:assert/strict";
import { globalFlags, parseArgv } from "../../../lib/args.ts";
import { PAUSE_OPTIONS, pauseOrResume } from "../../../lib/ops/pause_cmd.ts";
import { UsageError } from "../../../lib/errors.ts";
import { textIo as io } from "../../_support/io.ts";

const call = (which: "pause" | "resume", argv: string[]) => {
  const p = parseArgv(argv, PAUSE_OPTIONS);
  return pauseOrResume(which, p, globalFlags(p), io());
};

Deno.test("pauseOrResume(): the command line is refused before any request", async () => {
  await assert.rejects(call("pause", ["extra", "-S", "web"]), /unexpected argument "extra"/);
  await assert.rejects(call("pause", []), /name one service with -S, or give --all/);
  await assert.rejects(call("resume", ["-S", "a", "--all"]), /name one service with -S/);
  await assert.rejects(call("pause", ["-S", "../x"]), UsageError);
  await assert.rejects(call("pause", ["--all", "--reason", "tab\there"]), /one line of text/);
  await assert.rejects(call("resume", ["--all", "--reason", "why"]), /--reason belongs to pause/);
});
