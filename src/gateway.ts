// The composition root: builds the modules, wires their dependencies, starts them in order and
// closes them in reverse order.
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { AccessConfig } from './auth/access-config';
import { createAuthorizer, type Authorizer } from './auth/authorizer';
import type { Config } from './config/config';
import { gatewayClock } from './core/clock';
import { StreamRegistry } from './core/stream-registry';
import { DemoPublisher } from './gst/demo-publisher';
import { GstMediaEngine } from './gst/gst-media-engine';
import { gstVersion } from './gst/runtime';
import { createHttpServer } from './http/http-server';
import type { RootLogger } from './observability/logger';

/** Lets readers receive end of stream before their connections close. */
const SHUTDOWN_LINGER_MS = 400;

export class Gateway {
  readonly #logger: RootLogger;
  readonly #engine: GstMediaEngine;
  readonly #registry: StreamRegistry;
  readonly #http: FastifyInstance;
  readonly #authorizer: Authorizer;
  #demo: DemoPublisher | undefined;
  #closing: Promise<void> | undefined;

  private constructor(config: Config, access: AccessConfig, logger: RootLogger) {
    this.#logger = logger;
    this.#authorizer = createAuthorizer(access);
    this.#engine = new GstMediaEngine({
      host: config.host,
      port: config.rtspPort,
      sessionTimeoutS: config.sessionTimeoutS,
      clientThreads: config.rtspThreads,
      fastStart: config.fastStart,
      authorizer: this.#authorizer,
      logger: logger.child({ module: 'rtsp' }),
    });
    this.#registry = new StreamRegistry({
      engine: this.#engine,
      clock: gatewayClock,
      logger: logger.child({ module: 'streams' }),
      graceMs: config.graceMs,
    });
    this.#http = createHttpServer({
      registry: this.#registry,
      clock: gatewayClock,
      logger,
      idleTimeoutMs: config.idleTimeoutMs,
      gstreamerVersion: gstVersion(),
      authorizer: this.#authorizer,
    });
  }

  static async start(config: Config, access: AccessConfig, logger: RootLogger): Promise<Gateway> {
    const gateway = new Gateway(config, access, logger);
    gateway.#engine.start();
    try {
      await gateway.#http.listen({ host: config.host, port: config.httpPort });
    } catch (err) {
      gateway.#engine.close();
      throw err;
    }
    logger.info(
      { httpPort: gateway.httpPort, rtspPort: gateway.rtspPort, host: config.host, gstreamer: gstVersion(), fastStart: gateway.#engine.rtsp.fastStart },
      `pushgate listening: push to http://${config.host}:${gateway.httpPort}/push/<name>, play rtsp://${config.host}:${gateway.rtspPort}/<name>`,
    );
    if (config.demo) {
      gateway.#demo = new DemoPublisher({
        url: `http://127.0.0.1:${gateway.httpPort}/push/demo`,
        logger: logger.child({ module: 'demo', stream: 'demo' }),
      });
      gateway.#demo.start();
    }
    return gateway;
  }

  get httpPort(): number {
    return (this.#http.server.address() as AddressInfo).port;
  }

  get rtspPort(): number {
    return this.#engine.rtsp.port;
  }

  /** Stops accepting, ends pushes and readers, sets every pipeline to NULL. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#logger.info('shutting down');
    this.#registry.closeAll('the gateway is shutting down');
    // Answers every push, the demo's too, and closes their connections. Only then is the demo
    // pipeline stopped: stopping curlhttpsink joins its transfer thread, which would otherwise
    // wait for this very thread to read what it sends (a deadlock).
    await this.#http.close();
    this.#demo?.close();
    await delay(SHUTDOWN_LINGER_MS);
    this.#engine.close();
    this.#authorizer.close();
    this.#logger.info('stopped');
  }
}
