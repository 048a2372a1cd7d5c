import assert from "node:assert/strict";
import { CheckCode, Exit } from "../../lib/exit_codes.ts";

Deno.test("exit codes: the script-check dialect, and the small set every other command uses", () => {
  assert.deepEqual(CheckCode, { passing: 0, warning: 1, critical: 2, unknown: 3 });
  assert.deepEqual(Exit, { OK: 0, FAILED: 1, USAGE: 2, UNKNOWN: 3 });
  // distinct codes: a caller can act on the code alone
  assert.equal(new Set(Object.values(Exit)).size, Object.keys(Exit).length);
});
