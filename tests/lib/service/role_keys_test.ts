// The role keys of a switch: their paths, values, the watch input and the switch lock holder.
import assert from "node:assert/strict";
import { b64encode } from "../../../lib/consul/client.ts";
import {
  parseRoleKey,
  parseSwitchHolder,
  parseWatchInput,
  roleKey,
  roleKeysFromEntries,
  switchLockKey,
} from "../../../lib/service/role_keys.ts";
import { pendingFlagRows } from "../../../lib/status/view.ts";

Deno.test("parseWatchInput() reads a key watch's stdin: object, null, empty", () => {
  const key = roleKey("service", "web", "n2", "promote");
  assert.equal(key, "service/web/n2/promote");
  assert.equal(switchLockKey("service", "web"), "service/web/.switch");
  const obj = JSON.stringify({ Key: key, Value: b64encode("START"), ModifyIndex: 7 });
  assert.deepEqual(parseWatchInput(obj + "\n"), { key, value: "START" });
  assert.deepEqual(parseWatchInput("null\n"), { key: null, value: "NULL" });
  assert.deepEqual(parseWatchInput(JSON.stringify({ Key: key, Value: null })), {
    key,
    value: "NULL",
  });
  assert.deepEqual(parseWatchInput(JSON.stringify({ Key: key, Value: b64encode("bogus") })), {
    key,
    value: "NULL",
  });
  assert.equal(parseWatchInput(""), null);
  assert.throws(() => parseWatchInput("[1]"), /key watch/);
  assert.throws(() => parseWatchInput("{"), /key watch/);
});

Deno.test("roleKeysFromEntries() reads each node's keys (not the switch lock); the status rows agree", () => {
  const prefix = "service/web/";
  const flags = roleKeysFromEntries(prefix, [
    { key: "service/web/a/demote", value: "WAIT", modifyIndex: 1 },
    { key: "service/web/b/promote", value: "START", modifyIndex: 1 },
    { key: "service/web/c/promote", value: "FAILED", modifyIndex: 1 },
    { key: "service/web/.switch", value: "{}", modifyIndex: 1 },
  ]);
  assert.deepEqual([...flags], [
    ["a", { demote: "WAIT" }],
    ["b", { promote: "START" }],
    ["c", { promote: "FAILED" }],
  ]);
  assert.deepEqual(
    pendingFlagRows(
      prefix,
      [
        { key: "service/web/a/demote", value: "WAIT" },
        { key: "service/web/a/promote", value: "NULL" },
        { key: "service/web/b/promote", value: "NULL" },
      ].map((e) => ({
        ...e,
        modifyIndex: 1,
        createIndex: 1,
        lockIndex: 0,
        flags: 0,
        session: null,
      })),
    ),
    [{ node: "a", promote: "NULL", demote: "WAIT" }],
  );
});

Deno.test("roleKey() and switchLockKey() refuse a node or service name that is not one segment", () => {
  assert.equal(roleKey("service", "web", "n1", "promote"), "service/web/n1/promote");
  assert.equal(switchLockKey("service", "web"), "service/web/.switch");
  assert.throws(
    () => roleKey("service", "web", "..", "demote"),
    /the node name cannot be "\.\."/,
  );
  assert.throws(() => roleKey("service", "..", "n1", "demote"), /cannot be "\.\."/);
  assert.throws(() => switchLockKey("service", ".."), /cannot be "\.\."/);
});

Deno.test("parseRoleKey() and parseSwitchHolder(): one reading of a switch key and a holder", () => {
  assert.deepEqual(parseRoleKey("service/web/", "service/web/n1/promote"), {
    node: "n1",
    kind: "promote",
  });
  assert.equal(parseRoleKey("service/web/", "service/web/.switch"), null);
  assert.equal(parseRoleKey("service/web/", "service/web/n1/promote/x"), null);
  assert.equal(parseRoleKey("service/web/", "service/db/n1/promote"), null);
  assert.deepEqual(
    parseSwitchHolder(JSON.stringify({ node: "n3", pid: 7, action: "start-primary", at: "t" })),
    { action: "start-primary", node: "n3", pid: 7, at: "t" },
  );
  assert.equal(parseSwitchHolder("not json"), null);
  assert.equal(parseSwitchHolder(null), null);
});
