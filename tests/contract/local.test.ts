import { describe } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { createLocalStorage } from "../../src/storage/local";
import { createUrlSigner } from "../../src/storage/signing";
import { tempDir } from "../helpers/server";
import { storageContract } from "./storage-contract";

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
});
