// Flags and environment variables -> Config, with errors that name the option.
import { Command, Option } from 'commander';
import { ConfigError, OPTIONS, type Config } from './config';

export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Config {
  const program = new Command('pushgate')
    .description('Live video pushed over HTTP, served over RTSP. Every option can also be set by its environment variable.')
    .showHelpAfterError()
    .exitOverride();
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
  const raw = program.opts<Record<string, string | boolean>>();
  const config: Record<string, unknown> = {};
  for (const { spec, option } of options) {
    const value = raw[option.attributeName()];
    try {
      config[spec.key] = spec.parse(value === true ? 'true' : String(value));
    } catch (err) {
      const why = err instanceof ConfigError ? err.message : String(err);
      throw new ConfigError(`invalid ${spec.flag.split(' ')[0]} (${spec.env}): ${why}`);
    }
  }
  return config as unknown as Config;
}
