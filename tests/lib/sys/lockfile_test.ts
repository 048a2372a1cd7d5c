import assert from "node:assert/strict";
import {
  createLockFile,
  inspectNoopFile,
  judgeNoopFile,
  lockDirProblem,
  type LockRecord,
  lockText,
  parseLockRecord,
  processStart,
  removeLockFile,
  selfHolder,
} from "../../../lib/sys/lockfile.ts";

const P = "/run/powerconsul/web.lock";
const rec = (over: Partial<LockRecord> = {}): LockRecord => ({
  by: "powerconsul",
  action: "restart",
  name: "web",
  consulService: "web",
  holder: { pid: 4242, start: "777" },
  at: "2026-12-01T10:00:00.000Z",
  ...over,
});
const rootFile = { type: "file" as const, uid: 0 };

Deno.test("judgeNoopFile: absent, honoured (operator's touch, a live holder, a switch's lock)", () => {
  assert.deepEqual(judgeNoopFile(P, { entry: null, text: null }), {
    state: "absent",
    note: "",
    record: null,
  });
  const touched = judgeNoopFile(P, { entry: rootFile, text: "" });
  assert.equal(touched.state, "honoured");
  assert.equal(touched.note, `noop file ${P} exists (maintenance under way)`);
  const live = judgeNoopFile(P, { entry: rootFile, text: lockText(rec()), holderStart: "777" });
  assert.equal(live.state, "honoured");
  assert.equal(
    live.note,
    `noop file ${P} exists (restart by pid 4242 since 2026-12-01T10:00:00.000Z)`,
  );
  const sw = judgeNoopFile(P, {
    entry: rootFile,
    text: lockText(rec({ action: "promote", holder: null })),
  });
  assert.equal(sw.state, "honoured");
  assert.equal(sw.note, `noop file ${P} exists (promote since 2026-12-01T10:00:00.000Z)`);
});

Deno.test("judgeNoopFile: a symlink, a non-regular file or a file not owned by root is foreign", () => {
  const cases: [Parameters<typeof judgeNoopFile>[1], string][] = [
    [{ entry: { type: "symlink", uid: 0 }, text: null }, "it is a symlink"],
    [{ entry: { type: "directory", uid: 0 }, text: null }, "it is not a regular file"],
    [{ entry: { type: "file", uid: 1000 }, text: "" }, "it is owned by uid 1000, not root"],
    [{ entry: rootFile, text: null }, "it changed while it was read"],
  ];
  for (const [facts, why] of cases) {
    const j = judgeNoopFile(P, facts);
    assert.equal(j.state, "foreign", why);
    assert.equal(j.note, `noop file ${P} ignored: ${why}`);
  }
});

Deno.test("judgeNoopFile: a holder whose process cannot be checked is honoured, and says so", () => {
  const j = judgeNoopFile(P, { entry: rootFile, text: lockText(rec()), holderStart: undefined });
  assert.equal(j.state, "honoured");
  assert.match(j.note, /whether that process runs could not be told\)$/);
});

Deno.test("processStart: this process has a start time, a pid that does not exist has none", async () => {
  assert.match((await processStart(Deno.pid)) ?? "", /\d{4}$/);
  assert.equal(await processStart(2 ** 22 + 1), null);
});

Deno.test("judgeNoopFile: a holder that is gone, or a reused pid, makes the file stale", () => {
  for (const holderStart of [null, "778"]) {
    const j = judgeNoopFile(P, { entry: rootFile, text: lockText(rec()), holderStart });
    assert.equal(j.state, "stale");
    assert.equal(
      j.note,
      `noop file ${P} ignored: left by restart (pid 4242, since 2026-12-01T10:00:00.000Z), ` +
        "which is no longer running",
    );
  }
});

Deno.test("parseLockRecord: ours or null", () => {
  assert.deepEqual(parseLockRecord(lockText(rec())), rec());
  assert.equal(parseLockRecord("not json"), null);
  assert.equal(parseLockRecord('{"by":"someone","action":"x"}'), null);
  assert.equal(parseLockRecord("null"), null);
});

Deno.test("lockDirProblem: only a real directory owned by root that no one else can write", () => {
  const d = { isSymlink: false, isDirectory: true, uid: 0, mode: 0o40700 };
  assert.equal(lockDirProblem("/run/powerconsul", d), null);
  assert.equal(lockDirProblem("/x", { ...d, mode: 0o40755 }), null);
  assert.match(
    lockDirProblem("/var/lock", { ...d, mode: 0o41777 })!,
    /writable by other users \(mode 1777\)/,
  );
  assert.match(lockDirProblem("/x", { ...d, uid: 1000 })!, /not owned by root/);
  assert.match(lockDirProblem("/x", { ...d, isSymlink: true })!, /is a symlink/);
});

const asRoot = Deno.uid() === 0;

Deno.test({
  name: "createLockFile: exclusive, never through a planted symlink, a stale lock taken over",
  ignore: !asRoot,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.chmod(dir, 0o700);
      const path = `${dir}/web.lock`;
      const target = `${dir}/precious`;
      await Deno.writeTextFile(target, "keep me\n");
      await Deno.symlink(target, path);
      const planted = await createLockFile(path, rec({ holder: await selfHolder() }));
      assert.equal(planted.created, false);
      assert.equal(await Deno.readTextFile(target), "keep me\n", "the target is untouched");
      assert.equal((await inspectNoopFile(path)).state, "foreign");
      await removeLockFile(path);
      assert.equal(await Deno.readTextFile(target), "keep me\n", "removing drops the link only");

      const mine = await createLockFile(path, rec({ holder: await selfHolder() }));
      assert.deepEqual(mine, { created: true, tookOver: null });
      assert.equal((await inspectNoopFile(path)).state, "honoured");
      assert.equal(((await Deno.lstat(path)).mode! & 0o777).toString(8), "600");
      const again = await createLockFile(path, rec({ holder: await selfHolder() }));
      assert.equal(again.created, false);

      // a holder that is gone: stale for the check, taken over by the next action
      await removeLockFile(path);
      await Deno.writeTextFile(path, lockText(rec({ holder: { pid: 2 ** 22 + 1, start: "1" } })));
      assert.equal((await inspectNoopFile(path)).state, "stale");
      const over = await createLockFile(path, rec({ holder: await selfHolder() }));
      assert.equal(over.created, true);
      assert.equal(over.created && over.tookOver?.state, "stale");
      // the record is written aside and linked into place: no draft is ever left behind
      const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
      assert.deepEqual(names, ["precious", "web.lock"]);
      assert.equal((await inspectNoopFile(path)).record?.holder?.pid, Deno.pid);

      // a directory others can write is refused before anything is created
      const open = await Deno.makeTempDir();
      await Deno.chmod(open, 0o1777);
      await assert.rejects(
        () => createLockFile(`${open}/x.lock`, rec()),
        /writable by other users \(mode 1777\)/,
      );
      await Deno.remove(open, { recursive: true });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
