// Publishing from a browser, as a person would: headless Chromium with its fake camera and
// microphone opens the gateway's /publish.html, fills in the name and credentials and presses
// Start; ffprobe and ffmpeg then read the stream over RTSP, /v1/streams lists it, a reload of
// the page within the grace period keeps the RTSP reader playing, and a wrong password is
// refused with the page saying so.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { hashSha256 } from '../../src/auth/secrets';
import { FfmpegReader, ffprobe, getStream, request } from './helpers/clients';
import { releaseOpened } from './helpers/cleanup';
import { TestBrowser, type PageLog } from './helpers/browser';
import { Gateway } from './helpers/gateway';
import { MediaDir } from './helpers/media';
import { waitFor } from './helpers/processes';

const CONFIG = `
users:
  - name: cam
    password: "${hashSha256('cam-secret')}"
    permissions:
      - {action: publish, streams: ["browser/*"]}
  - name: anonymous
    permissions:
      - {action: read, streams: ["*"]}
      - {action: api, streams: ["*"]}
`;

/** The page, driven as a person would: what they fill in, press and read. */
class PublishPage {
  constructor(
    readonly page: Page,
    readonly log: PageLog,
  ) {}

  async open(url: string): Promise<void> {
    await this.page.goto(url);
  }

  async reload(): Promise<void> {
    await this.page.reload();
    await this.page.waitForSelector('#state[data-state="idle"]');
  }

  async startPublishing(name: string, user: string, password: string): Promise<void> {
    await this.page.fill('#name', name);
    if ((await this.page.getAttribute('#credentials', 'open')) === null) await this.page.click('#credentials summary');
    await this.page.fill('#user', user);
    await this.page.fill('#password', password);
    await this.page.click('#start');
  }

  async state(): Promise<{ state: string; text: string; error: string; code: string | null; width: number; height: number }> {
    return {
      state: (await this.page.getAttribute('#state', 'data-state')) ?? '',
      text: (await this.page.textContent('#state')) ?? '',
      error: (await this.page.textContent('#error')) ?? '',
      code: await this.page.getAttribute('#error', 'data-code'),
      width: Number(await this.page.getAttribute('#details', 'data-width')),
      height: Number(await this.page.getAttribute('#details', 'data-height')),
    };
  }

  async waitForState(wanted: string, timeoutMs: number): Promise<Awaited<ReturnType<PublishPage['state']>>> {
    try {
      await this.page.waitForSelector(`#state[data-state="${wanted}"]`, { timeout: timeoutMs });
    } catch (err) {
      throw new Error(`${(err as Error).message}\nthe page says ${JSON.stringify(await this.state())}\n${this.log.tail()}`);
    }
    return this.state();
  }
}

let media: MediaDir;
let gateway: Gateway;
let browser: TestBrowser;
let page: PublishPage;
let reader: FfmpegReader | undefined;

before(async () => {
  media = new MediaDir();
  const configFile = media.file('pushgate.yaml');
  writeFileSync(configFile, CONFIG);
  gateway = await Gateway.start(['--config', configFile, '--grace-period', '8000']);
  browser = await TestBrowser.launch();
  const { page: tab, log } = await browser.newPage();
  page = new PublishPage(tab, log);
  await page.open(`${gateway.http}/publish.html`);
});

after(async () => {
  reader?.proc.kill('SIGKILL');
  await releaseOpened({ browsers: [browser], gateways: [gateway], media });
});

void test('the page publishes the fake camera as browser/cam: RTSP readers get H.264 at its resolution, frames advance, /v1/streams lists it', async () => {
  await page.startPublishing('browser/cam', 'cam', 'cam-secret');
  const live = await page.waitForState('live', 20_000);
  assert.ok(live.width > 0 && live.height > 0, `the camera's size: ${JSON.stringify(live)}`);
  assert.match(live.text, /H264/);
  const rtspUrl = await page.page.textContent('#rtsp');
  assert.equal(rtspUrl, `rtsp://127.0.0.1:${gateway.rtspPort}/browser/cam`);

  const probe = await ffprobe(gateway.rtspUrl('browser/cam'));
  const video = probe.streams.find((s) => s.codec_type === 'video');
  assert.ok(video, `ffprobe found no video: ${probe.stderr}`);
  assert.equal(video.codec_name, 'h264');
  assert.deepEqual([video.width, video.height], [live.width, live.height]);
  assert.equal(probe.streams.find((s) => s.codec_type === 'audio')?.codec_name, 'opus', 'the fake microphone as Opus');

  reader = new FfmpegReader(gateway.rtspUrl('browser/cam'), 'tcp');
  await reader.waitForFrames(30, 20_000);
  await reader.waitForMoreFrames(30, 10_000);

  const stream = await getStream(gateway.http, 'browser/cam');
  assert.equal(stream?.state, 'live');
  assert.equal(stream?.format, 'matroska');
  assert.deepEqual([stream?.video?.codec, stream?.video?.width, stream?.video?.height], ['h264', live.width, live.height]);
  assert.equal(stream?.audio?.codec, 'opus');
  assert.equal(stream?.publisher?.ingest, 'node');
});

void test('a reload of the page within the grace period keeps the RTSP reader playing', async () => {
  assert.ok(reader?.running, 'the reader of the first test plays');
  await page.reload();
  await waitFor(async () => (await getStream(gateway.http, 'browser/cam'))?.state === 'grace', 5000, 'the stream to wait for its publisher');
  const before = reader.frames;
  await page.startPublishing('browser/cam', 'cam', 'cam-secret');
  await page.waitForState('live', 20_000);
  await reader.waitForFrames(before + 60, 20_000);
  assert.ok(reader.running, 'the same reader, never reconnected');
  assert.ok(gateway.logs.some((l) => l.msg === 'publisher resumed: readers continue' && l.stream === 'browser/cam'));
});

void test('a second page publishing the same name is told the name is busy, and the first goes on', async () => {
  const { page: tab, log } = await browser.newPage();
  const second = new PublishPage(tab, log);
  await second.open(`${gateway.http}/publish.html`);
  await second.startPublishing('browser/cam', 'cam', 'cam-secret');
  const busy = await second.waitForState('error', 20_000);
  assert.equal(busy.code, 'STREAM_BUSY', JSON.stringify(busy));
  assert.match(busy.error, /busy/);
  assert.equal((await page.state()).state, 'live');
  await reader?.waitForMoreFrames(20, 10_000);
  await tab.close();
});

void test('a wrong password is refused before anything is published, and the page says so', async () => {
  await page.reload();
  await page.startPublishing('browser/other', 'cam', 'wrong');
  const refused = await page.waitForState('error', 10_000);
  assert.equal(refused.code, 'UNAUTHORIZED', JSON.stringify(refused));
  assert.match(refused.error, /Not allowed/);
  assert.equal(await getStream(gateway.http, 'browser/other'), undefined);
  // The same refusal a non-browser client gets: 401 before any upgrade.
  const plain = await request('GET', `${gateway.http}/push-ws/browser/other`, { headers: { authorization: `Basic ${Buffer.from('cam:wrong').toString('base64')}` } });
  assert.equal(plain.status, 401);
});
