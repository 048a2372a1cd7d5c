import assert from "node:assert/strict";
import { encodeKvKey, kvPath, nameProblem, segment } from "../../lib/names.ts";
import { UsageError } from "../../lib/errors.ts";

Deno.test("nameProblem refuses what could leave its prefix or break a line", () => {
  assert.equal(nameProblem("web"), null);
  assert.equal(nameProblem("web-1.example_a@b:c"), null);
  assert.equal(nameProblem(""), "is empty");
  assert.equal(nameProblem("."), 'cannot be "."');
  assert.equal(nameProblem(".."), 'cannot be ".."');
  assert.equal(nameProblem("../service/evil"), 'cannot contain "/"');
  assert.equal(nameProblem("a\nb"), "cannot contain control characters");
  assert.equal(nameProblem("x".repeat(129)), "is longer than 128 characters");
});

Deno.test("segment throws one UsageError line naming the input", () => {
  assert.throws(() => segment("-S/--consulservice", ".."), (e: unknown) => {
    assert.ok(e instanceof UsageError);
    assert.equal(e.message, '-S/--consulservice cannot be "..": ".."');
    return true;
  });
});

Deno.test("kvPath joins a multi-segment prefix with validated names", () => {
  assert.equal(
    kvPath("triggers", ["ServiceName", "web"], ["role", "primary"]),
    "triggers/web/primary",
  );
  assert.equal(kvPath("/a/b/", ["n", "c"]), "a/b/c");
  assert.throws(() => kvPath("triggers", ["ServiceName", "../service/evil"]), UsageError);
  assert.throws(() => kvPath("a/../b", ["n", "c"]), UsageError);
});

Deno.test("encodeKvKey percent-encodes segments and refuses dot segments", () => {
  assert.equal(encodeKvKey("a b/c?d"), "a%20b/c%3Fd");
  assert.equal(encodeKvKey("service/web/"), "service/web/");
  assert.throws(() => encodeKvKey("triggers/../service/evil"), UsageError);
  assert.throws(() => encodeKvKey("a//b"), UsageError);
  assert.throws(() => encodeKvKey("./a"), UsageError);
});
