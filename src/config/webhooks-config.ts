// What the operator configures about webhooks: plain data, validated by the config loader
// (src/config/config-file.ts) and acted on by Webhooks (src/observability/webhooks.ts).
import type { GatewayEventName } from '../core/gateway-events';

export const WEBHOOK_EVENTS = ['publish', 'unpublish', 'readerJoin', 'readerLeave', 'authRefused'] as const satisfies readonly GatewayEventName[];
// Every gateway event can be hooked: adding an event without listing it above fails to compile.
const everyEventListed: Exclude<GatewayEventName, (typeof WEBHOOK_EVENTS)[number]> extends never ? true : never = true;
void everyEventListed;

export interface WebhookConfig {
  /** Where each event is POSTed (http or https); also what names the hook in stats and across reloads. */
  readonly url: string;
  /** The events sent to it; all of them when the file gives none. */
  readonly events: readonly GatewayEventName[];
  /** Signs each body (X-Pushgate-Signature: sha256=<hex HMAC-SHA256>); unsigned without. */
  readonly secret: string | undefined;
  /** Each attempt's deadline, answer included. */
  readonly timeoutMs: number;
}

export interface WebhooksConfig {
  readonly hooks: readonly WebhookConfig[];
  /** Events waiting (or in flight) per hook; beyond it a new event is dropped. */
  readonly queueSize: number;
  /** Attempts per event, the first included, before it counts as failed. */
  readonly maxAttempts: number;
}

export const DEFAULT_WEBHOOK_TIMEOUT_MS = 5000;
export const DEFAULT_WEBHOOKS: WebhooksConfig = { hooks: [], queueSize: 1000, maxAttempts: 5 };
