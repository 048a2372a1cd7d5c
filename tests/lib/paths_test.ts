import assert from "node:assert/strict";

Deno.test("paths: join/dirname/basename/fromFileUrl behave like node:path for POSIX paths", async () => {
  const ours = await import("../../lib/paths.ts");
  const node = await import("node:path");
  const { fileURLToPath } = await import("node:url");
  const cases = [["/a", "b"], ["/a/", "/b/"], ["a", "..", "b"], ["/", ""], ["x/./y", "../z"], [
    "..",
  ]];
  for (const c of cases) assert.equal(ours.join(...c), node.join(...c), c.join(","));
  for (const p of ["/a/b", "/a/b/", "b", "/", "/a", "a/b/c"]) {
    assert.equal(ours.dirname(p), node.dirname(p), p);
    assert.equal(ours.basename(p), node.basename(p), p);
  }
  const u = "file:///opt/power%20consul/main.ts";
  assert.equal(ours.fromFileUrl(u), fileURLToPath(u));
  assert.equal(ours.fromFileUrl("https://x/y"), "https://x/y");
});
