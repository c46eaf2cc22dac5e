#!/usr/bin/env node
// pushgate CLI: flags/env -> config -> gateway; SIGINT/SIGTERM -> graceful close, exit 0.
import { CommanderError } from 'commander';
import { parseSettings, type Settings } from './config/cli';
import { ConfigWatcher } from './config/config-watcher';
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
let watcher: ConfigWatcher | undefined;

/** Reads the flags, environment and file again; a bad file changes nothing. */
function reload(cause: string): void {
  if (!gateway) return;
  try {
    const next = parseSettings(process.argv.slice(2));
    gateway.reload(next);
  } catch (err) {
    const problem = err instanceof ConfigError ? err.message : String(err);
    logger.error({ cause, configFile }, `config reload refused, the running config stays in force: ${problem}`);
  }
}

let signals = 0;

/** The first signal drains (--drain-timeout) then closes; a second one closes at once. */
function stop(signal: string): void {
  logger.info({ signal }, 'signal received');
  watcher?.close();
  const drain = signals++ === 0 && gateway && config.drainMs > 0;
  const closing = !gateway ? Promise.resolve() : drain ? gateway.drain(config.drainMs).then(() => gateway?.close()) : gateway.close();
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
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
// SIGHUP (which would end the process) reloads the config file, as a change of the file does.
process.on('SIGHUP', () => (configFile ? reload('SIGHUP') : logger.warn('SIGHUP: no config file (--config) to reload')));

if (configFile) logger.info({ configFile, users: access.users.map((u) => u.name), externalAuth: access.externalAuth?.url, webhooks: webhooks.hooks.length }, 'config file read');
Gateway.start(config, access, logger, { reloadable: configFile !== undefined, webhooks })
  .then((started) => {
    gateway = started;
    if (configFile) watcher = new ConfigWatcher(configFile, (cause) => reload(cause));
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
