import { timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * HMAC tokens for `storage_url` download links on local storage. A token binds one file id; it is
 * unguessable without the secret and stops working when the file is deleted (the route checks the row).
 */
export interface UrlSigner {
  sign(fileId: string): string;
  verify(fileId: string, token: string): boolean;
}

export function createUrlSigner(secret: string): UrlSigner {
  const mac = (fileId: string) =>
    new Bun.CryptoHasher("sha256", secret).update(`media:${fileId}`).digest("base64url");
  return {
    sign: mac,
    verify(fileId, token) {
      const expected = Buffer.from(mac(fileId));
      const given = Buffer.from(token);
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}

/** `SIGNING_SECRET` when set, else a secret generated once and kept (mode 0600) in the data directory. */
export function loadSigningSecret(configured: string | undefined, dataDir: string): string {
  if (configured) return configured;
  const path = join(dataDir, "signing.secret");
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex");
  writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: "wx" });
  chmodSync(path, 0o600);
  return secret;
}
