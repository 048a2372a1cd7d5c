import assert from "node:assert/strict";
import { compilePattern, unsafePattern } from "../../lib/pattern.ts";

Deno.test("unsafePattern() refuses patterns with catastrophic backtracking", () => {
  for (
    const p of ["(a+)+$", "(a*)*b", "^(\\w+\\s?)*$", "(x+x+)+y", "((ab)*c)+", "(a|a)*$", "(.*){2,}"]
  ) {
    assert.ok(unsafePattern(p), `${p} should be refused`);
  }
  for (
    const p of [
      "^prod-",
      "web[0-9]+",
      "(a|b)+",
      "(prod-)?web.*",
      "a{2,3}",
      "[(]+",
      "\\(a+\\)+",
      "(abc)+",
    ]
  ) {
    assert.equal(unsafePattern(p), null, `${p} should be allowed`);
  }
});

Deno.test("compilePattern() refuses with one line, compiles otherwise", () => {
  assert.throws(() => compilePattern("^(?:(a+)+$)"), /refused: .*nested quantifiers/);
  assert.ok(compilePattern("^(?:web\\d+)").test("web12"));
});

Deno.test("a cluster document's filter with a catastrophic pattern is refused, not compiled", async () => {
  const { parseClusterDoc } = await import("../../lib/cluster/doc.ts");
  const { ClusterError } = await import("../../lib/errors.ts");
  const doc = JSON.stringify({
    filter: {
      "(a+)+$": { active_nodes: ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"], standby_nodes: [] },
    },
  });
  assert.throws(() => parseClusterDoc(doc), ClusterError);
});
