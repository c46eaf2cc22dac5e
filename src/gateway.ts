// The composition root: builds the modules, wires their dependencies, starts them in order and
// closes them in reverse order.
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { AccessConfig } from './auth/access-config';
import type { Authorizer } from './auth/authorizer';
import { createAuthorizer } from './auth/create-authorizer';
import { ReloadableAuthorizer } from './auth/reloadable-authorizer';
import { ConfigError, type Config } from './config/config';
import { appliedConfig, planReload, type ReloadPlan } from './config/reload';
import { loadTls, type TlsMaterial } from './config/tls';
import { DEFAULT_WEBHOOKS, type WebhooksConfig } from './config/webhooks-config';
import { AddressQuota } from './core/address-quota';
import { gatewayClock } from './core/clock';
import { GatewayEvents } from './core/gateway-events';
import { StreamRegistry } from './core/stream-registry';
import { DemoPublisher } from './gst/demo-publisher';
import { GstMediaEngine } from './gst/gst-media-engine';
import { gstVersion } from './gst/runtime';
import type { Readiness } from './http/api-routes';
import { createHttpServer, type HttpServerOptions } from './http/http-server';
import { EventCounts } from './observability/event-counts';
import type { RootLogger } from './observability/logger';
import { GatewayMetrics, type MetricsSources } from './observability/metrics';
import { Webhooks } from './observability/webhooks';

/** Lets readers receive end of stream before their connections close. */
const SHUTDOWN_LINGER_MS = 400;
/** How often a drain looks whether readers are left. */
const DRAIN_POLL_MS = 250;
/** Warn at start-up when the certificate expires sooner than this. */
const CERT_EXPIRY_WARNING_MS = 14 * 24 * 3600 * 1000;

export interface GatewayOptions {
  /** The config can be reloaded while running (a config file): see reload(). */
  readonly reloadable?: boolean;
  /** From the config file; none without one. */
  readonly webhooks?: WebhooksConfig;
}

interface HttpListener {
  readonly app: FastifyInstance;
  readonly port: number;
}

export class Gateway {
  readonly #logger: RootLogger;
  readonly #engine: GstMediaEngine;
  readonly #registry: StreamRegistry;
  readonly #events: GatewayEvents;
  /** Totals of the events /metrics reports. */
  readonly #eventCounts: EventCounts;
  /** Plain HTTP, when on. */
  readonly #http: HttpListener | undefined;
  /** HTTPS, with TLS. Same routes, same registry. */
  readonly #https: HttpListener | undefined;
  readonly #authorizer: Authorizer;
  readonly #webhooks: Webhooks;
  #webhooksConfig: WebhooksConfig;
  /** Set when the config can be reloaded: the authorizer, whose access a reload replaces. */
  readonly #reloadableAccess: ReloadableAuthorizer | undefined;
  readonly #publisherQuota: AddressQuota;
  #config: Config;
  #access: AccessConfig;
  #demo: DemoPublisher | undefined;
  #closing: Promise<void> | undefined;
  #draining: Promise<void> | undefined;

  private constructor(config: Config, access: AccessConfig, logger: RootLogger, tls: TlsMaterial | undefined, options: GatewayOptions) {
    this.#logger = logger;
    this.#events = new GatewayEvents(logger.child({ module: 'events' }));
    this.#eventCounts = new EventCounts(this.#events);
    this.#webhooksConfig = options.webhooks ?? DEFAULT_WEBHOOKS;
    this.#webhooks = new Webhooks({ events: this.#events, config: this.#webhooksConfig, logger: logger.child({ module: 'webhooks' }) });
    this.#config = config;
    this.#access = access;
    this.#reloadableAccess = options.reloadable ? new ReloadableAuthorizer(access) : undefined;
    this.#authorizer = this.#reloadableAccess ?? createAuthorizer(access);
    this.#publisherQuota = new AddressQuota(config.maxPublishersPerAddress);
    this.#engine = new GstMediaEngine({
      host: config.host,
      port: config.plainRtsp ? config.rtspPort : undefined,
      tls: tls && { port: config.rtspsPort, certPath: tls.certPath, keyPath: tls.keyPath },
      sessionTimeoutS: config.sessionTimeoutS,
      clientThreads: config.rtspThreads,
      fastStart: config.fastStart,
      maxReadersPerStream: config.maxReadersPerStream,
      maxReaders: config.maxReaders,
      authorizer: this.#authorizer,
      reloadableAccess: this.#reloadableAccess !== undefined,
      maxConnections: config.maxConnections,
      maxConnectionsPerAddress: config.maxRtspConnectionsPerAddress,
      logger: logger.child({ module: 'rtsp' }),
      events: this.#events,
      nativeIngest: config.nativeIngest,
      webrtc: config.webrtc
        ? {
            maxWatchersPerStream: config.maxWebrtcWatchersPerStream,
            maxWatchers: config.maxWebrtcWatchers,
            stunServer: config.webrtcStunServer || undefined,
            turnServer: config.webrtcTurnServer || undefined,
            iceGatherTimeoutMs: config.webrtcIceGatherTimeoutMs,
          }
        : undefined,
    });
    this.#registry = new StreamRegistry({
      engine: this.#engine,
      clock: gatewayClock,
      logger: logger.child({ module: 'streams' }),
      graceMs: config.graceMs,
      maxStreams: config.maxStreams,
      events: this.#events,
    });
    const http: HttpServerOptions = {
      metrics: new GatewayMetrics(this.#metricsSources()),
      registry: this.#registry,
      events: this.#events,
      clock: gatewayClock,
      logger,
      idleTimeoutMs: config.idleTimeoutMs,
      gstreamerVersion: gstVersion(),
      readiness: () => this.readiness,
      authorizer: this.#authorizer,
      nativeIngest: this.#engine.nativeIngest,
      readers: this.#engine.readers,
      webrtc: this.#engine.webrtc,
      rtspPorts: () => ({ rtsp: this.rtspPort, rtsps: this.rtspsPort }),
      limits: {
        publisherQuota: this.#publisherQuota,
        maxHeaderBytes: config.maxHeaderBytes,
        headerTimeoutMs: config.headerTimeoutMs,
        maxConnections: config.maxConnections,
      },
    };
    this.#http = config.plainHttp ? { app: createHttpServer(http), port: config.httpPort } : undefined;
    this.#https = tls ? { app: createHttpServer({ ...http, tls }), port: config.httpsPort } : undefined;
  }

  /**
   * Checks the TLS files, then starts RTSP(S) and HTTP(S). A ConfigError (bad TLS options or
   * files) is thrown before anything listens; if any port cannot be bound, nothing is left
   * listening.
   */
  static async start(config: Config, access: AccessConfig, logger: RootLogger, options: GatewayOptions = {}): Promise<Gateway> {
    const tls = loadTls(config);
    // curlhttpsink cannot do HTTPS with Debian's libcurl (GnuTLS: "failed to set default crypto engine").
    if (config.demo && !config.plainHttp) throw new ConfigError('--demo pushes to the plain HTTP port: it cannot be used with --plain-http off');
    if (tls && tls.validTo.getTime() - Date.now() < CERT_EXPIRY_WARNING_MS) {
      logger.warn({ cert: tls.certPath, validTo: tls.validTo.toISOString() }, tls.validTo.getTime() < Date.now() ? 'the TLS certificate has expired: clients will refuse it' : 'the TLS certificate expires soon');
    }
    const gateway = new Gateway(config, access, logger, tls, options);
    const listening: FastifyInstance[] = [];
    try {
      gateway.#engine.start();
      for (const listener of [gateway.#http, gateway.#https]) {
        if (!listener) continue;
        await listener.app.listen({ host: config.host, port: listener.port });
        listening.push(listener.app);
      }
    } catch (err) {
      await Promise.all(listening.map((app) => app.close()));
      gateway.#engine.close();
      gateway.#authorizer.close();
      await gateway.#webhooks.close();
      throw err;
    }
    const { httpPort, httpsPort, rtspPort, rtspsPort } = gateway;
    const urls = [
      httpPort !== undefined && `push to http://${config.host}:${httpPort}/push/<name>`,
      httpsPort !== undefined && `push to https://${config.host}:${httpsPort}/push/<name>`,
      rtspPort !== undefined && `play rtsp://${config.host}:${rtspPort}/<name>`,
      rtspsPort !== undefined && `play rtsps://${config.host}:${rtspsPort}/<name>`,
    ].filter(Boolean);
    logger.info(
      { httpPort, httpsPort, rtspPort, rtspsPort, host: config.host, gstreamer: gstVersion(), fastStart: gateway.#engine.rtsp.fastStart, nativeIngest: gateway.#engine.nativeIngest !== undefined, ...(tls && { tls: { cert: tls.certPath, names: tls.names, validTo: tls.validTo.toISOString() } }) },
      `pushgate listening: ${urls.join(', ')}`,
    );
    if (config.demo) gateway.#startDemo();
    return gateway;
  }

  #startDemo(): void {
    this.#demo = new DemoPublisher({
      url: `http://127.0.0.1:${this.httpPort}/push/demo`,
      logger: this.#logger.child({ module: 'demo', stream: 'demo' }),
    });
    this.#demo.start();
  }

  /** What /metrics reads, each when it is scraped. */
  #metricsSources(): MetricsSources {
    const engine = this.#engine;
    return {
      streams: () => this.#registry.list(),
      events: () => {
        this.#eventCounts.forgetStreamsBut(new Set(this.#registry.list().map((stream) => stream.name)));
        return this.#eventCounts.totals();
      },
      rtsp: () => engine.rtsp.metricsCounters().requests,
      fastStart: () => engine.rtsp.metricsCounters().fastStart,
      readers: () => engine.readers?.list(),
      webhooks: () => this.#webhooks.stats().total,
    };
  }

  /** The plain HTTP port; undefined when plain HTTP is off. */
  get httpPort(): number | undefined {
    return this.#http && (this.#http.app.server.address() as AddressInfo).port;
  }

  /** The HTTPS port; undefined without TLS. */
  get httpsPort(): number | undefined {
    return this.#https && (this.#https.app.server.address() as AddressInfo).port;
  }

  /** The plain RTSP port; undefined when plain RTSP is off. */
  get rtspPort(): number | undefined {
    return this.#engine.rtsp.port;
  }

  /** The RTSPS port; undefined without TLS. */
  get rtspsPort(): number | undefined {
    return this.#engine.rtsp.tlsPort;
  }

  /**
   * Takes what a reloaded config changes and a running gateway can apply (users, permissions,
   * limits; see config/reload.ts) without dropping a stream or reader; says what needs a
   * restart. Only for a gateway started reloadable.
   */
  reload(next: { config: Config; access: AccessConfig; webhooks: WebhooksConfig }): ReloadPlan {
    const plan = planReload({ config: this.#config, access: this.#access }, next);
    const log = this.#logger.child({ module: 'config' });
    const webhooksChanged = JSON.stringify(next.webhooks) !== JSON.stringify(this.#webhooksConfig);
    if (webhooksChanged) {
      this.#webhooks.update(next.webhooks);
      this.#webhooksConfig = next.webhooks;
    }
    if (plan.access && this.#reloadableAccess) {
      this.#reloadableAccess.replace(next.access);
      this.#engine.rtsp.accessChanged();
      this.#access = { ...next.access, realm: this.#access.realm };
    }
    if (plan.live.length > 0) {
      const config = appliedConfig(this.#config, next.config);
      this.#config = config;
      this.#registry.setLimits({ maxStreams: config.maxStreams, graceMs: config.graceMs });
      this.#publisherQuota.setMax(config.maxPublishersPerAddress);
      const { maxReadersPerStream, maxReaders, maxConnections, maxRtspConnectionsPerAddress } = config;
      this.#engine.rtsp.setLimits({ maxReadersPerStream, maxReaders, maxConnections, maxConnectionsPerAddress: maxRtspConnectionsPerAddress });
      for (const listener of [this.#http, this.#https]) if (listener) listener.app.server.maxConnections = maxConnections;
    }
    const needRestart = [...plan.needRestart, ...(plan.realmNeedsRestart ? ['realm'] : [])];
    if (needRestart.length > 0) {
      log.warn({ options: needRestart }, `config reloaded, but these changes need a restart and are not applied: ${needRestart.join(', ')}`);
    }
    log.info({ applied: plan.live, access: plan.access, webhooks: webhooksChanged }, plan.live.length > 0 || plan.access || webhooksChanged ? 'config reloaded' : 'config reloaded: nothing to apply');
    return plan;
  }

  /** Webhook counters (`stats()`) and live reconfiguration (`update()`). */
  get webhooks(): Webhooks {
    return this.#webhooks;
  }

  /** What /readyz answers. */
  get readiness(): Readiness {
    return this.#closing ? 'stopping' : this.#draining ? 'draining' : 'ready';
  }

  /**
   * For a rolling restart: from now on refuses new pushes (503 DRAINING) and says so on /readyz,
   * while the live streams go on for their readers; resolves once no reader is left, or after
   * `ms`, or when the gateway closes. Idempotent.
   */
  drain(ms: number): Promise<void> {
    this.#draining ??= this.#drain(ms);
    return this.#draining;
  }

  async #drain(ms: number): Promise<void> {
    this.#registry.drain();
    const readers = (): number => this.#registry.list().reduce((sum, stream) => sum + stream.readers, 0);
    this.#logger.info({ drainMs: ms, readers: readers() }, 'draining: no new pushes; readers are served until they leave or the drain timeout');
    const deadline = performance.now() + ms;
    while (!this.#closing && performance.now() < deadline && readers() > 0) await delay(Math.min(DRAIN_POLL_MS, deadline - performance.now()));
    this.#logger.info({ readers: readers() }, 'drained');
  }

  /** Stops accepting, ends pushes and readers, sets every pipeline to NULL. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#logger.info('shutting down');
    this.#registry.closeAll('the gateway is shutting down');
    // Answers every push (on either port), the demo's too, and closes their connections. Only
    // then is the demo pipeline stopped: stopping curlhttpsink joins its transfer thread, which
    // would otherwise wait for this very thread to read what it sends (a deadlock).
    await Promise.all([this.#http?.app.close(), this.#https?.app.close()]);
    this.#demo?.close();
    await delay(SHUTDOWN_LINGER_MS);
    this.#engine.close();
    this.#authorizer.close();
    // Last, so that the events of the stages above (unpublish, readers leaving) are sent too.
    await this.#webhooks.close();
    this.#eventCounts.close();
    this.#logger.info('stopped');
  }
}
