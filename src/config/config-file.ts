// The YAML config file: every option of the OPTIONS table under its key (camelCase, e.g.
// `httpPort`), plus the access sections (`realm`, `users`, `externalAuth`) and the webhooks
// (`webhooks`, `webhookQueueSize`, `webhookMaxAttempts`). Validated with zod,
// and every problem is reported with its path (`users[1].permissions[0].action: expected one of
// publish, read, api`), so a wrong file never starts a half-working server.
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ACTIONS, ANONYMOUS, DEFAULT_ACCESS, DEFAULT_REALM, type AccessConfig } from '../auth/access-config';
import { parseCidr } from '../auth/networks';
import { passwordHashProblem, tokenHashProblem } from '../auth/secrets';
import { ConfigError, OPTIONS, type Config } from './config';
import { DEFAULT_WEBHOOK_TIMEOUT_MS, DEFAULT_WEBHOOKS, WEBHOOK_EVENTS, type WebhooksConfig } from './webhooks-config';

export interface ConfigFile {
  /** Option values as the file gives them, checked by each option's own parser later. */
  readonly options: Partial<Record<keyof Config, string>>;
  readonly access: AccessConfig;
  readonly webhooks: WebhooksConfig;
}

const cidr = z.string().refine((value) => parseCidr(value) !== undefined, { message: 'expected a network in CIDR form, e.g. 10.0.0.0/8 or fc00::/7' });
const networks = z.array(cidr).min(1);

const permission = z.strictObject({
  action: z.enum(ACTIONS),
  streams: z.array(z.string().min(1)).min(1),
  networks: networks.optional(),
});

const user = z
  .strictObject({
    name: z.string().regex(/^[^:\s]+$/, { message: 'expected a name without ":" or spaces' }),
    password: z.string().superRefine((value, ctx) => {
      const problem = passwordHashProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }).optional(),
    tokens: z.array(z.string().superRefine((value, ctx) => {
      const problem = tokenHashProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })).optional(),
    digestHa1: z.string().regex(/^[0-9a-fA-F]{32}$/, { message: 'expected md5(user:realm:password) as 32 hex digits' }).optional(),
    digestPlainPassword: z.string().min(1).optional(),
    networks: networks.optional(),
    permissions: z.array(permission),
  })
  .superRefine((entry, ctx) => {
    const secrets = ['password', 'tokens', 'digestHa1', 'digestPlainPassword'] as const;
    if (entry.name === ANONYMOUS) {
      for (const key of secrets) if (entry[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'the anonymous user has no credentials' });
    } else if (!secrets.some((key) => entry[key] !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['password'], message: 'a user needs a password, a token or a Digest secret' });
    }
    if (entry.digestHa1 !== undefined && entry.digestPlainPassword !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['digestPlainPassword'], message: 'give digestHa1 or digestPlainPassword, not both' });
    }
  });

const webhook = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
  events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).optional(),
  secret: z.string().min(16, { message: 'expected a secret of at least 16 characters' }).optional(),
  timeoutMs: z.number().int().min(10).max(60_000).default(DEFAULT_WEBHOOK_TIMEOUT_MS),
});

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const optionShape = Object.fromEntries(OPTIONS.map((o) => [o.key, scalar.optional()])) as Record<keyof Config, z.ZodOptional<typeof scalar>>;

const fileSchema = z
  .strictObject({
    ...optionShape,
    realm: z.string().regex(/^[^"\\]+$/, { message: 'expected a realm without quotes or backslashes' }).optional(),
    users: z.array(user).optional(),
    externalAuth: z
      .strictObject({
        url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
        timeoutMs: z.number().int().min(10).max(10_000).default(1000),
        cacheMs: z.number().int().min(0).max(3_600_000).default(10_000),
      })
      .optional(),
    webhooks: z.array(webhook).optional(),
    webhookQueueSize: z.number().int().min(1).max(1_000_000).default(DEFAULT_WEBHOOKS.queueSize),
    webhookMaxAttempts: z.number().int().min(1).max(20).default(DEFAULT_WEBHOOKS.maxAttempts),
  })
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.users?.forEach((entry, i) => {
      if (seen.has(entry.name)) ctx.addIssue({ code: 'custom', path: ['users', i, 'name'], message: `"${entry.name}" is listed twice` });
      seen.add(entry.name);
    });
    const urls = new Set<string>();
    file.webhooks?.forEach((hook, i) => {
      if (urls.has(hook.url)) ctx.addIssue({ code: 'custom', path: ['webhooks', i, 'url'], message: `"${hook.url}" is listed twice` });
      urls.add(hook.url);
    });
    if (file.externalAuth && file.users) ctx.addIssue({ code: 'custom', path: ['externalAuth'], message: 'give users or externalAuth, not both (external authorisation decides alone)' });
  });

/** Reads and validates `path`; throws a ConfigError naming the file and every bad key. */
export function loadConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  return parseConfigText(text, path);
}

export function parseConfigText(text: string, source: string): ConfigFile {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ConfigError(`config file ${source} is not valid YAML: ${document.errors.map((e) => e.message.split('\n')[0]).join('; ')}`);
  }
  const raw: unknown = document.toJS() ?? {};
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`config file ${source} is invalid:\n${parsed.error.issues.map((issue) => `  ${describeIssue(issue)}`).join('\n')}`);
  }
  const file = parsed.data;
  const options: Partial<Record<keyof Config, string>> = {};
  for (const spec of OPTIONS) {
    const value = file[spec.key];
    if (value !== undefined) options[spec.key] = String(value);
  }
  // No users: the defaults, unless an external authoriser decides everything.
  const users = file.users ?? (file.externalAuth ? [] : DEFAULT_ACCESS.users);
  const access: AccessConfig = { realm: file.realm ?? DEFAULT_REALM, users, ...(file.externalAuth ? { externalAuth: file.externalAuth } : {}) };
  const webhooks: WebhooksConfig = {
    hooks: (file.webhooks ?? []).map((hook) => ({ url: hook.url, events: [...new Set(hook.events ?? WEBHOOK_EVENTS)], secret: hook.secret, timeoutMs: hook.timeoutMs })),
    queueSize: file.webhookQueueSize,
    maxAttempts: file.webhookMaxAttempts,
  };
  return { options, access, webhooks };
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = formatPath(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => `${path ? `${path}.` : ''}${key}: unknown key`).join('\n  ');
    case 'invalid_value':
      return `${path}: expected one of ${issue.values.map(String).join(', ')}`;
    case 'invalid_type':
      return `${path}: expected ${issue.expected === 'union' ? 'a string, number or boolean' : issue.expected}${issue.input === undefined ? ' (missing)' : ''}`;
    default:
      return `${path}: ${issue.message}`;
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : `${out ? '.' : ''}${String(part)}`;
  return out || '(top level)';
}
