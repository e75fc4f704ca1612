import { expect, test } from "bun:test";
import { resolve } from "node:path";
import { loadConfig, SETTINGS } from "../../src/config";

/**
 * compose.yaml cannot be started here (no registry for the store's image), so this checks what can be
 * checked without it: the file parses, and renderio's environment, after compose's `${…}` interpolation,
 * is a valid S3 configuration for our own config loader. Part of the normal suite (no container needed).
 */
const compose = Bun.YAML.parse(await Bun.file(resolve(import.meta.dir, "../../compose.yaml")).text()) as any;

/** Compose-style interpolation of `${NAME}`, `${NAME:-default}` and `${NAME:?error}` from `env`. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_m, name: string, op?: string, arg?: string) => {
    const v = env[name];
    if (v) return v;
    if (op === "?") throw new Error(`compose would stop: ${arg}`);
    return op === "-" ? (arg ?? "") : "";
  });
}

test("compose.yaml: renderio is wired to the store with STORAGE_DRIVER=s3 and a /data volume", () => {
  const { renderio, store, bucket } = compose.services;
  expect(Object.keys(compose.volumes)).toEqual(["renderio-data", "store-data"]);
  expect(renderio.volumes).toContain("renderio-data:/data");
  expect(renderio.depends_on.bucket.condition).toBe("service_completed_successfully");
  for (const name of Object.keys(renderio.environment)) expect(SETTINGS).toHaveProperty(name);

  const secrets = { S3_ACCESS_KEY_ID: "AKIDEXAMPLE", S3_SECRET_ACCESS_KEY: "secret-example" };
  const env = Object.fromEntries(
    Object.entries(renderio.environment as Record<string, string>).map(([k, v]) => [
      k,
      interpolate(v, secrets),
    ]),
  );
  const config = loadConfig({ ...env, DATA_DIR: "/data" });
  expect(config).toMatchObject({
    STORAGE_DRIVER: "s3",
    S3_ENDPOINT: "http://store:9000",
    S3_BUCKET: "renderio",
    S3_FORCE_PATH_STYLE: true,
    S3_ACCESS_KEY_ID: "AKIDEXAMPLE",
    PUBLIC_BASE_URL: "http://localhost:3000",
  });
  // The store and the bucket job use the same credentials as renderio.
  expect(interpolate(store.environment.RUSTFS_ACCESS_KEY, secrets)).toBe("AKIDEXAMPLE");
  expect(interpolate(bucket.environment.AWS_SECRET_ACCESS_KEY, secrets)).toBe("secret-example");
  expect(() => interpolate(renderio.environment.S3_ACCESS_KEY_ID, {})).toThrow("export S3_ACCESS_KEY_ID");
});
