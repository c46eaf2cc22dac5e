// Headless Chromium for the tests that use pushgate as a person would: Debian's /usr/bin/chromium
// (scripts/setup.sh installs it) driven by playwright-core, which never downloads a browser of
// its own. One TestBrowser owns one Chromium process: close() (idempotent, also through
// releaseOpened's `browsers`) ends it and its temporary profile. A missing Chromium fails the
// test with how to install it: a browser test that skips would hide what it should catch.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** The browser under test; PUSHGATE_CHROMIUM points at another build. */
export const CHROMIUM = process.env.PUSHGATE_CHROMIUM ?? '/usr/bin/chromium';

/**
 * The flags this machine needs (its network is closed: without the background-networking ones
 * Chromium keeps trying Google's hosts), plus what the camera and playback tests need: a fake
 * camera and microphone granted without a prompt, and autoplay without a click. The fresh
 * profile (--user-data-dir) is Playwright's: launch() makes a new empty one in the temporary
 * directory each time and removes it on close (it refuses the flag in `args`).
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
];

/** What a page printed, for a failing test's message. */
export interface PageLog {
  readonly lines: string[];
  tail(count?: number): string;
}

export class TestBrowser {
  readonly #browser: Browser;
  readonly #contexts = new Set<BrowserContext>();
  #closed: Promise<void> | undefined;

  private constructor(browser: Browser) {
    this.#browser = browser;
  }

  static async launch(options: { extraArgs?: readonly string[] } = {}): Promise<TestBrowser> {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium is not at ${CHROMIUM}: run scripts/setup.sh (it installs Debian's chromium package), or set PUSHGATE_CHROMIUM`);
    }
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [...CHROMIUM_ARGS, ...(options.extraArgs ?? [])],
      timeout: 30_000,
    });
    return new TestBrowser(browser);
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** A page in a context of its own (its own sessionStorage, no shared credentials), with its console kept. */
  async newPage(): Promise<{ page: Page; log: PageLog }> {
    if (this.#closed) throw new Error('the browser is closed');
    const context = await this.#browser.newContext();
    this.#contexts.add(context);
    context.once('close', () => this.#contexts.delete(context));
    const page = await context.newPage();
    const lines: string[] = [];
    page.on('console', (message) => lines.push(`[console.${message.type()}] ${message.text()}`));
    page.on('pageerror', (err) => lines.push(`[pageerror] ${err.message}`));
    page.on('requestfailed', (request) => lines.push(`[requestfailed] ${request.method()} ${request.url()} ${request.failure()?.errorText ?? ''}`));
    return { page, log: { lines, tail: (count = 30) => lines.slice(-count).join('\n') } };
  }

  /** Closes every page and context, then Chromium. Safe to call twice. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      for (const context of this.#contexts) await context.close().catch(() => {});
      await this.#browser.close();
    })();
    return this.#closed;
  }
}
