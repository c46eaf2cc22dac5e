// Flags, environment variables and the config file -> Config, with errors that name the option.
// Precedence: flag > environment > config file > default.
import { Command, Option } from 'commander';
import { DEFAULT_ACCESS, type AccessConfig } from '../auth/access-config';
import { ConfigError, OPTIONS, type Config } from './config';
import type { ConfigFile } from './config-file';
import { DEFAULT_WEBHOOKS, type WebhooksConfig } from './webhooks-config';

export interface Settings {
  readonly config: Config;
  readonly access: AccessConfig;
  /** From the config file; none without one. */
  readonly webhooks: WebhooksConfig;
  /** The config file read, if any. */
  readonly configFile: string | undefined;
}

export const CONFIG_FLAG = '--config <path>';
export const CONFIG_ENV = 'PUSHGATE_CONFIG';

export function parseSettings(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Settings {
  const program = new Command('pushgate')
    .description('Live video pushed over HTTP, served over RTSP. Every option can also be set by its environment variable or in the YAML config file.')
    .showHelpAfterError()
    .exitOverride();
  program.addOption(new Option(CONFIG_FLAG, 'YAML config file: options by their camelCase key, users, permissions, externalAuth').env(CONFIG_ENV));
  const options = OPTIONS.map((spec) => {
    const option = new Option(spec.flag, spec.description).env(spec.env).default(String(spec.defaultValue));
    program.addOption(option);
    return { spec, option };
  });
  // commander reads process.env itself; a caller-supplied env (tests) is applied the same way.
  const savedEnv = process.env;
  process.env = env;
  try {
    program.parse([...argv], { from: 'user' });
  } finally {
    process.env = savedEnv;
  }
  const raw = program.opts<Record<string, string | boolean | undefined>>();
  const configFile = typeof raw.config === 'string' ? raw.config : undefined;
  const file = configFile ? loadConfigFile(configFile) : undefined;
  const config: Record<string, unknown> = {};
  for (const { spec, option } of options) {
    const name = option.attributeName();
    const fromFile = program.getOptionValueSource(name) === 'default' ? file?.options[spec.key] : undefined;
    const value = fromFile ?? raw[name];
    try {
      config[spec.key] = spec.parse(value === true ? 'true' : String(value));
    } catch (err) {
      const why = err instanceof ConfigError ? err.message : String(err);
      const where = fromFile !== undefined ? `${spec.key} in ${configFile}` : `${spec.flag.split(' ')[0]} (${spec.env})`;
      throw new ConfigError(`invalid ${where}: ${why}`);
    }
  }
  return { config: config as unknown as Config, access: file?.access ?? DEFAULT_ACCESS, webhooks: file?.webhooks ?? DEFAULT_WEBHOOKS, configFile };
}

/**
 * zod and yaml are loaded only when a config file is given: without one the process stays as
 * small as before (their few MB of heap measurably raise RSS growth under load, see
 * test/e2e/memory.test.ts).
 */
function loadConfigFile(path: string): ConfigFile {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loader = require('./config-file') as typeof import('./config-file');
  return loader.loadConfigFile(path);
}

export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Config {
  return parseSettings(argv, env).config;
}
