import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { objectKey } from "../../src/storage/driver";
import { createLocalStorage, localLayout } from "../../src/storage/local";
import { createUrlSigner } from "../../src/storage/signing";
import { tempDir } from "../helpers/server";
import { storageContract } from "./storage-contract";

const oneChunk = (b: Uint8Array) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(b);
      c.close();
    },
  });

describe("storage contract: local disk", () => {
  const root = tempDir("renderio-local-");
  const driver = createLocalStorage({
    root,
    publicBaseUrl: "http://127.0.0.1:1",
    signer: createUrlSigner("s"),
  });
  storageContract({
    name: "local",
    driver: () => driver,
    leftovers: async () => {
      try {
        return readdirSync(join(root, "tmp"));
      } catch {
        return [];
      }
    },
  });

  describe("layout", () => {
    const account = crypto.randomUUID();
    const objects = join(root, "objects");

    test("a file is stored flat in its account's directory: no directory of its own", async () => {
      const fileId = crypto.randomUUID();
      const key = objectKey(account, fileId, "clip.mp4");
      await driver.put(key, oneChunk(new Uint8Array([1, 2, 3])));
      expect(readdirSync(join(objects, account))).toContain(`${fileId}_clip.mp4`);
      expect(existsSync(join(objects, account, fileId))).toBe(false);
      expect(driver.localPath(key)).toBe(join(objects, account, `${fileId}_clip.mp4`));
      await driver.delete(key);
      expect(readdirSync(join(objects, account))).not.toContain(`${fileId}_clip.mp4`);
      expect(existsSync(join(objects, account))).toBe(true); // uploads may be renaming into it
    });

    test("a file stored by an earlier version at <account>/<file_id>/<name> is still found and deleted", async () => {
      const fileId = crypto.randomUUID();
      const key = objectKey(account, fileId, "old.wav");
      mkdirSync(join(objects, account, fileId), { recursive: true });
      writeFileSync(join(objects, account, fileId, "old.wav"), "legacy bytes");
      expect((await driver.head(key))?.size).toBe(12);
      const obj = await driver.get(key, { start: 0, end: 5 });
      expect(await new Response(obj?.body).text()).toBe("legacy");
      expect(driver.localPath(key)).toBe(join(objects, account, fileId, "old.wav"));
      await driver.delete(key);
      expect(await driver.head(key)).toBeNull();
      expect(existsSync(join(objects, account, fileId))).toBe(false);
    });

    test("a 255-byte name still fits: the on-disk name is cut, the extension kept", async () => {
      const name = `${"n".repeat(251)}.mp4`;
      const key = objectKey(account, crypto.randomUUID(), name);
      const onDisk = (localLayout(key).path.split("/").pop() as string).length;
      expect(onDisk).toBe(255);
      expect(localLayout(key).path.endsWith(".mp4")).toBe(true);
      await driver.put(key, oneChunk(new Uint8Array(10)));
      expect((await driver.head(key))?.size).toBe(10);
      await driver.delete(key);
      expect(await driver.head(key)).toBeNull();
    });

    test("keys of another shape are paths as they are", () => {
      expect(localLayout("a/b.txt")).toEqual({ path: "a/b.txt" });
      expect(localLayout("acct/not-a-uuid/x.bin")).toEqual({ path: "acct/not-a-uuid/x.bin" });
    });
  });
});
