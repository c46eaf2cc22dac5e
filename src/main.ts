#!/usr/bin/env node
// pushgate CLI: flags/env -> config -> gateway; SIGINT/SIGTERM -> graceful close, exit 0.
import { CommanderError } from 'commander';
import { parseSettings, type Settings } from './config/cli';
import { ConfigError } from './config/config';
import { runHashPassword } from './hash-password';
import { Gateway } from './gateway';
import { quitMainLoop, runMainLoop } from './gst/runtime';
import { createLogger } from './observability/logger';

if (process.argv[2] === 'hash-password') process.exit(runHashPassword(process.argv.slice(3)));

function readSettings(): Settings {
  try {
    return parseSettings(process.argv.slice(2));
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    console.error(`pushgate: ${err instanceof ConfigError ? err.message : String(err)}`);
    process.exit(2);
  }
}

const { config, access, webhooks, configFile } = readSettings();
const logger = createLogger(config.logLevel);
let gateway: Gateway | undefined;

function stop(signal: string): void {
  logger.info({ signal }, 'signal received');
  const closing = gateway ? gateway.close() : Promise.resolve();
  closing
    .then(() => {
      quitMainLoop();
      process.exit(0);
    })
    .catch((err: unknown) => {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    });
}
process.once('SIGINT', () => stop('SIGINT'));
process.once('SIGTERM', () => stop('SIGTERM'));

if (configFile) logger.info({ configFile, users: access.users.map((u) => u.name), externalAuth: access.externalAuth?.url, webhooks: webhooks.hooks.length }, 'config file read');
Gateway.start(config, access, logger, { webhooks })
  .then((started) => {
    gateway = started;
  })
  .catch((err: unknown) => {
    // Bad TLS options or files are found at start, before anything listens: a usage error.
    if (err instanceof ConfigError) {
      console.error(`pushgate: ${err.message}`);
      process.exit(2);
    }
    logger.fatal({ err }, 'pushgate could not start');
    process.exit(1);
  });

// Blocks here for the life of the process; Node's event loop runs nested inside GLib's.
runMainLoop();
