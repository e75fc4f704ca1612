import { describe, expect, test } from "bun:test";
import { join, resolve } from "node:path";
import { displayPrefix, generateApiKey, hashApiKey, isWellFormedKey, sameDigest } from "../../src/auth/keys";
import { createRateLimiter } from "../../src/auth/rate-limit";
import { ConfigError, loadConfig } from "../../src/config";
import { sanitizeFilename } from "../../src/lib/filename";
import { parseRange } from "../../src/storage/driver";
import { createUrlSigner } from "../../src/storage/signing";

const ROOT = resolve(import.meta.dir, "../..");

describe("config", () => {
  test("README's configuration table is the one generated from the settings (every setting documented)", async () => {
    const gen = Bun.spawnSync(["bun", join(ROOT, "scripts/config-table.ts")]);
    expect(gen.exitCode).toBe(0);
    const table = gen.stdout.toString().trim();
    const readme = await Bun.file(join(ROOT, "README.md")).text();
    const start = readme.indexOf("| Variable | Default | Meaning |");
    expect(readme.slice(start, readme.indexOf("\n\n", start))).toBe(table);
  });

  test("defaults with no environment at all", () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(3000);
    expect(c.DATA_DIR).toEndWith("/data");
    expect(c.DATABASE_PATH).toBe(`${c.DATA_DIR}/renderio.db`);
    expect(c.PUBLIC_BASE_URL).toBe("http://localhost:3000");
    expect(c.MAX_UPLOAD_BYTES).toBe(10 * 1024 ** 3);
    expect(c.STORAGE_DRIVER).toBe("local");
    expect(Object.isFrozen(c)).toBe(true);
  });

  test("derived defaults follow other settings; trailing slashes are dropped", () => {
    const c = loadConfig({ PORT: "8080", DATA_DIR: "/tmp/x", PUBLIC_BASE_URL: "https://media.example.com/" });
    expect(c.DATABASE_PATH).toBe("/tmp/x/renderio.db");
    expect(c.PUBLIC_BASE_URL).toBe("https://media.example.com");
    expect(loadConfig({ PORT: "8080" }).PUBLIC_BASE_URL).toBe("http://localhost:8080");
  });

  test("every bad value is reported at once, by name", () => {
    try {
      loadConfig({ PORT: "70000", LOG_LEVEL: "loud", MAX_UPLOAD_BYTES: "-5", PUBLIC_BASE_URL: "ftp://x" });
      throw new Error("should have thrown");
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const problems = (e as ConfigError).problems.join("\n");
      for (const name of ["PORT", "LOG_LEVEL", "MAX_UPLOAD_BYTES", "PUBLIC_BASE_URL"])
        expect(problems).toContain(name);
    }
  });

  test("S3: the largest upload must fit in 10,000 equal parts", () => {
    const s3 = { STORAGE_DRIVER: "s3", S3_BUCKET: "b", S3_ACCESS_KEY_ID: "k", S3_SECRET_ACCESS_KEY: "s" };
    expect(loadConfig({ ...s3, S3_PART_SIZE_MB: "5" }).MAX_UPLOAD_BYTES).toBe(10 * 1024 ** 3);
    expect(() =>
      loadConfig({ ...s3, S3_PART_SIZE_MB: "5", MAX_UPLOAD_BYTES: String(100 * 1024 ** 3) }),
    ).toThrow("raise S3_PART_SIZE_MB to at least 11");
    // Local storage has no part limit.
    expect(
      loadConfig({ S3_PART_SIZE_MB: "5", MAX_UPLOAD_BYTES: String(100 * 1024 ** 3) }).STORAGE_DRIVER,
    ).toBe("local");
  });
});

describe("API keys", () => {
  test("ffsk_ + 64 hex from a CSPRNG; only the digest is compared", () => {
    const a = generateApiKey();
    const b = generateApiKey();
    expect(a).toMatch(/^ffsk_[0-9a-f]{64}$/);
    expect(a).toHaveLength(69);
    expect(a).not.toBe(b);
    expect(isWellFormedKey(a)).toBe(true);
    expect(isWellFormedKey(`${a}0`)).toBe(false);
    expect(hashApiKey(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(sameDigest(hashApiKey(a), hashApiKey(a))).toBe(true);
    expect(sameDigest(hashApiKey(a), hashApiKey(b))).toBe(false);
    expect(displayPrefix(a)).toBe(a.slice(0, 13));
  });
});

describe("rate limiter", () => {
  test("burst, then one token per refill interval, per key", () => {
    let now = 0;
    const rl = createRateLimiter(60, 2, () => now); // 1 per second
    expect([rl.take("k"), rl.take("k")]).toEqual([0, 0]);
    expect(rl.take("k")).toBe(1);
    expect(rl.take("other")).toBe(0);
    now += 1000;
    expect(rl.take("k")).toBe(0);
    expect(rl.take("k")).toBe(1);
  });

  test("0 per minute disables limiting", () => {
    const rl = createRateLimiter(0, 1);
    for (let i = 0; i < 100; i++) expect(rl.take("k")).toBe(0);
  });
});

describe("file names", () => {
  test.each([
    ["video.mp4", "video.mp4"],
    ["../../etc/passwd", "passwd"],
    ["C:\\Users\\me\\clip.mov", "clip.mov"],
    ["evil\u202Egpj.exe", "evilgpj.exe"],
    ["a\u0000b\u0007c.txt", "abc.txt"],
    [".hidden", "hidden"],
    ["-rf.mp4", "rf.mp4"],
    ["..", "file"],
    ["", "file"],
    ["my clip (final).mp4", "my clip (final).mp4"],
    ["na<me>?.mp4", "na_me__.mp4"],
    ["vidéo.mp4", "vidéo.mp4"],
  ])("%j → %j", (raw, expected) => {
    expect(sanitizeFilename(raw)).toBe(expected);
  });

  test("long names are cut to 255 bytes keeping the extension", () => {
    const name = sanitizeFilename(`${"é".repeat(300)}.mp4`);
    expect(new TextEncoder().encode(name).length).toBeLessThanOrEqual(255);
    expect(name).toEndWith(".mp4");
  });
});

describe("Range header", () => {
  test.each([
    ["bytes=0-9", 100, { start: 0, end: 9 }],
    ["bytes=90-", 100, { start: 90, end: 99 }],
    ["bytes=-10", 100, { start: 90, end: 99 }],
    ["bytes=50-500", 100, { start: 50, end: 99 }],
    ["bytes=100-", 100, "unsatisfiable"],
    ["bytes=0-1,5-6", 100, null],
    ["items=0-1", 100, null],
  ] as const)("%s of %d", (h, size, expected) => {
    expect(parseRange(h, size)).toEqual(expected);
  });
});

describe("download tokens", () => {
  test("bind one file id and one secret", () => {
    const s = createUrlSigner("secret-a");
    const t = s.sign("file-1");
    expect(s.verify("file-1", t)).toBe(true);
    expect(s.verify("file-2", t)).toBe(false);
    expect(createUrlSigner("secret-b").verify("file-1", t)).toBe(false);
    expect(s.verify("file-1", `${t}x`)).toBe(false);
  });
});
