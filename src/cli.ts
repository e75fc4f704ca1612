import { parseArgs } from "node:util";
import { createAuthService } from "./auth/service";
import { type Config, ConfigError, loadConfig } from "./config";
import { openDatabase } from "./db/client";
import { runMigrations } from "./db/migrate";
import { startServer } from "./server";

const USAGE = `renderio — self-hosted FFmpeg file and command API

Usage:
  renderio [serve]                         start the server (default)
  renderio keys create [--name NAME] [--account ID]
                                           create an API key (new account unless --account); prints only the key
  renderio keys list                       list keys: id, account, name, prefix, created, last used, revoked
  renderio keys revoke ID                  revoke a key by id (or unique id prefix)
  renderio migrate                         apply database migrations and exit

Configuration comes from environment variables; see README.md.`;

function config(): Config {
  try {
    return loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
}

async function openDb(cfg: Config) {
  const db = await openDatabase(cfg);
  await runMigrations(db, cfg.DATABASE_URL);
  return { db, auth: createAuthService(db) };
}

/** Dispatches a command line; `serve` keeps running until SIGTERM/SIGINT. */
export async function main(argv: string[]): Promise<void> {
  const [cmd = "serve", sub, ...rest] = argv;
  if (cmd === "help" || cmd === "--help" || cmd === "-h") return void process.stdout.write(`${USAGE}\n`);

  if (cmd === "serve") {
    const running = await startServer(config()).catch((e: unknown) => {
      // A setting that only start-up can check (a missing ffmpeg, an unusable sandbox): no stack trace.
      if (!(e instanceof ConfigError)) throw e;
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    });
    const onSignal = (sig: string) => {
      running.deps.log.info("signal received", { signal: sig });
      running.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.on("SIGTERM", () => onSignal("SIGTERM"));
    process.on("SIGINT", () => onSignal("SIGINT"));
    return;
  }

  if (cmd === "migrate") {
    const { db } = await openDb(config());
    await db.close();
    return void process.stdout.write("migrations applied\n");
  }

  if (cmd === "keys") {
    const { auth, db } = await openDb(config());
    try {
      if (sub === "create") {
        const { values } = parseArgs({
          args: rest,
          options: { name: { type: "string" }, account: { type: "string" } },
        });
        const { key } = await auth.createKey({
          name: values.name ?? null,
          ...(values.account ? { accountId: values.account } : {}),
        });
        process.stdout.write(`${key}\n`);
      } else if (sub === "list") {
        const rows = await auth.listKeys();
        const fmt = (d: Date | null) => (d ? d.toISOString() : "-");
        process.stdout.write("ID\tACCOUNT\tNAME\tPREFIX\tCREATED\tLAST_USED\tREVOKED\n");
        for (const k of rows) {
          process.stdout.write(
            `${k.id}\t${k.accountId}\t${k.name ?? "-"}\t${k.prefix}…\t${fmt(k.createdAt)}\t${fmt(k.lastUsedAt)}\t${fmt(k.revokedAt)}\n`,
          );
        }
      } else if (sub === "revoke" && rest[0]) {
        if (!(await auth.revokeKey(rest[0]))) {
          process.stderr.write(`no single active key matches "${rest[0]}"\n`);
          process.exitCode = 1;
        } else process.stdout.write(`revoked ${rest[0]}\n`);
      } else {
        process.stderr.write(`${USAGE}\n`);
        process.exitCode = 2;
      }
    } finally {
      await db.close();
    }
    return;
  }

  process.stderr.write(`unknown command "${cmd}"\n\n${USAGE}\n`);
  process.exitCode = 2;
}
