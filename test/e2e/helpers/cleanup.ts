// The `after` hook every e2e file needs, written once: what the file opened is released in one
// order (browsers, readers and publishers first, so gateways stop with nobody hanging on, then any process
// still running, then the file's temporary media).
import type { TestBrowser } from './browser';
import type { ManualPush } from './clients';
import type { Gateway } from './gateway';
import type { MediaDir } from './media';
import { stopAll } from './processes';
import type { RtspClient } from './rtsp-client';

export interface Opened {
  /** Closed first: their pages hold WebRTC sessions and WebSocket pushes. */
  readonly browsers?: readonly (TestBrowser | undefined)[];
  readonly clients?: readonly (RtspClient | undefined)[];
  readonly pushes?: readonly ManualPush[];
  /** Entries may be undefined: a `before` that failed early started none. */
  readonly gateways?: readonly (Gateway | undefined)[];
  readonly media?: MediaDir | undefined;
}

export async function releaseOpened(opened: Opened): Promise<void> {
  for (const browser of opened.browsers ?? []) await browser?.close();
  for (const client of opened.clients ?? []) client?.close();
  for (const push of opened.pushes ?? []) push.destroy();
  for (const gateway of opened.gateways ?? []) if (gateway) await gateway.stop();
  await stopAll();
  opened.media?.remove();
}
