import assert from "node:assert/strict";
import { defaultLockFile, parseServiceArgs } from "../../../lib/service/args.ts";

Deno.test("parseServiceArgs(): the default lock file is in powerconsul's own directory", () => {
  assert.equal(defaultLockFile("web"), "/run/powerconsul/web.lock");
  const a = parseServiceArgs(["web", "restart"], { consulService: "w", abort: false });
  assert.equal(a.lockFile, "/run/powerconsul/web.lock");
  assert.equal(a.lockFileGiven, false);
  assert.throws(
    () => parseServiceArgs(["web", "start"], { consulService: "..", abort: false }),
    /-S\/--consulservice cannot be "\.\."/,
  );
});
