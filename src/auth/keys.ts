import { timingSafeEqual } from "node:crypto";

/**
 * API keys: `ffsk_` + 64 hex characters from a CSPRNG (spec §1.2). Only the SHA-256 is stored, so a
 * database leak does not leak usable keys.
 */
export const KEY_PREFIX = "ffsk_";
const KEY_RE = /^ffsk_[0-9a-f]{64}$/;

export function generateApiKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return KEY_PREFIX + Buffer.from(bytes).toString("hex");
}

export function isWellFormedKey(key: string): boolean {
  return KEY_RE.test(key);
}

export function hashApiKey(key: string): string {
  return new Bun.CryptoHasher("sha256").update(key).digest("hex");
}

/** The part of a key shown in listings: enough to tell keys apart, useless for guessing. */
export function displayPrefix(key: string): string {
  return key.slice(0, KEY_PREFIX.length + 8);
}

/** Constant-time comparison of two hex digests of equal length. */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length === y.length && timingSafeEqual(x, y);
}
