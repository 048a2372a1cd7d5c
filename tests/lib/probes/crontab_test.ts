import assert from "node:assert/strict";
import { judgeCrontab, parseIdFile } from "../../../lib/probes/crontab.ts";

Deno.test("judgeCrontab() checks existence, owner, group, entries and pattern", () => {
  const ids = { uid: 1000, crontabGid: 101 };
  const ok = { exists: true, uid: 1000, gid: 101, text: "# c\n* * * * * /bin/job\n" };
  assert.equal(judgeCrontab("u", ok, ids).installed, true);
  assert.equal(judgeCrontab("u", ok, ids, "/bin/job").installed, true);
  assert.match(judgeCrontab("u", ok, ids, "other").detail, /does not contain/);
  assert.match(judgeCrontab("u", { exists: false }, ids).detail, /no crontab/);
  assert.match(judgeCrontab("u", { ...ok, uid: 0 }, ids).detail, /owned by uid 0/);
  assert.match(judgeCrontab("u", { ...ok, gid: 0 }, ids).detail, /group/);
  assert.match(judgeCrontab("u", { ...ok, text: "# only\n\n" }, ids).detail, /only comments/);
  assert.deepEqual([...parseIdFile("root:x:0:0::/root:/bin/sh\nbob:x:1000:1000::/h:/bin/sh\n")], [[
    "root",
    0,
  ], ["bob", 1000]]);
});
