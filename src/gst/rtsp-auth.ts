// RTSP readers are authorised by the same AccessPolicy as HTTP, per request, in an RTSPAuth
// subclass whose `check` virtual method runs here (on Node's thread, while the RTSP client
// thread waits: a few map lookups and hashes per request, never per packet).
//
// Why not GstRTSPAuth's own tables (tokens, roles, factory permissions): its Basic table is
// keyed by base64("user:password"), i.e. needs the plain password, which the config never
// holds; and node-gtk cannot set RTSPContext.token from JavaScript (nor read ctx.conn), so a
// JavaScript `authenticate` could not hand a token to the default check. Overriding `check`
// keeps every decision in src/auth and lets a refusal be a real 403.
//
// createRtspAuth() can be called more than once (e.g. an RTSPS server with its own auth).
// Note for TLS: `check` is overridden for "auth.check.connect" too, so GstRTSPAuth's own
// TLS setup (set_tls_certificate) does not run; a TLS server must configure the connection's
// certificate itself (e.g. in client-connected via client.getConnection().getTls()).
import type { AccessPolicy, Credentials, Decision } from '../auth/access-policy';
import { NonceStore, digestResponseMatches, parseDigest } from '../auth/digest';
import { parseAuthorization } from '../auth/http-credentials';
import type { GatewayEvents } from '../core/gateway-events';
import type { Logger } from '../core/logger';
import { cacheAllowedChecks } from './rtsp-auth-cache';
import { GstRtsp, GstRtspServer, registerClass } from './runtime';

type Context = InstanceType<typeof GstRtspServer.RTSPContext>;
export type RtspAuth = InstanceType<typeof GstRtspServer.RTSPAuth>;

/** Synchronous decisions for one RTSP request (the check cannot wait for a promise). */
export type RtspDecider = (request: { credentials: Credentials; ip: string; stream: string }) => Decision;

class PushgateRtspAuth extends GstRtspServer.RTSPAuth {
  // `declare`, not a class field (node-gtk wrappers, see stream-media.ts).
  declare decideCheck: ((ctx: Context, check: string) => boolean) | undefined;

  override virtual_check(ctx: Context, check: string): boolean {
    return this.decideCheck?.(ctx, check) ?? false;
  }
}
registerClass(PushgateRtspAuth);

const RTSP_STATUS = { UNAUTHORIZED: 401, FORBIDDEN: 403, NOT_FOUND: 404, INTERNAL: 500 } as const;

export interface RtspAuthOptions {
  readonly realm: string;
  /** For Digest: the HA1 of users configured for it (undefined: Digest is not offered). Asked each time: a reload replaces it. */
  readonly policy: () => AccessPolicy | undefined;
  readonly decide: RtspDecider;
  /** How long an allowed check may be answered again without asking `decide` (see rtsp-auth-cache.ts). */
  readonly reuseAllowMs: number;
  readonly logger: Logger;
  /** Told of every refused request (authRefused, protocol rtsp). */
  readonly events?: GatewayEvents | undefined;
}

/** Builds an RTSPAuth that asks `options.decide` for every media-factory access/construct check. */
export function createRtspAuth(options: RtspAuthOptions): RtspAuth {
  const auth = new PushgateRtspAuth();
  auth.setRealm(options.realm);
  const nonces = new NonceStore();

  const reply = (ctx: Context, status: number, ip: string): void => {
    const [, response] = GstRtsp.rtspMessageNewResponse(status, GstRtsp.rtspStatusAsText(status), ctx.request);
    if (status === RTSP_STATUS.UNAUTHORIZED) {
      response.addHeader(GstRtsp.RTSPHeaderField.WWW_AUTHENTICATE, `Basic realm="${options.realm}"`);
      if (options.policy()?.hasDigestUsers) response.addHeader(GstRtsp.RTSPHeaderField.WWW_AUTHENTICATE, `Digest realm="${options.realm}", nonce="${nonces.issue(ip)}"`);
    }
    // Sent from this thread (Node's), where the client's request context is not current: made
    // current here, the answer goes out as the client's own answers do, with the request's
    // RTSP version, and is counted under the request's method (native/pgrtspstats.c).
    ctx.pushCurrent();
    try {
      ctx.client.sendMessage(null, response);
    } finally {
      ctx.popCurrent();
    }
  };

  const credentialsOf = (ctx: Context, ip: string): Credentials => {
    const [, header] = ctx.request.getHeader(GstRtsp.RTSPHeaderField.AUTHORIZATION, 0);
    if (!header || !/^\s*digest\s/i.test(header)) return parseAuthorization(header ?? undefined);
    const params = parseDigest(header);
    const ha1 = params ? options.policy()?.digestHa1(params.username) : undefined;
    if (!params || !ha1 || params.realm !== options.realm || !nonces.use(params.nonce, ip)) return { kind: 'invalid' };
    const method = GstRtsp.rtspMethodAsText(ctx.method) ?? '';
    return digestResponseMatches(params, method, ha1) ? { kind: 'digest', user: params.username } : { kind: 'invalid' };
  };

  auth.decideCheck = (ctx, check) => {
    // (The native cache allows these two itself, without calling here.)
    if (check === GstRtspServer.RTSP_AUTH_CHECK_CONNECT || check === GstRtspServer.RTSP_AUTH_CHECK_URL) return true;
    if (check !== GstRtspServer.RTSP_AUTH_CHECK_MEDIA_FACTORY_ACCESS && check !== GstRtspServer.RTSP_AUTH_CHECK_MEDIA_FACTORY_CONSTRUCT) return false;
    let ip = '';
    try {
      ip = ctx.client.getConnection()?.getIp() ?? '';
      const stream = (ctx.factory as { streamName?: string } | null)?.streamName;
      if (!stream) {
        reply(ctx, RTSP_STATUS.NOT_FOUND, ip);
        return false;
      }
      const decision = options.decide({ credentials: credentialsOf(ctx, ip), ip, stream });
      if (decision.result === 'allow') return true;
      if (check === GstRtspServer.RTSP_AUTH_CHECK_MEDIA_FACTORY_ACCESS) {
        options.logger.debug({ ip, stream, result: decision.result, reason: decision.reason }, 'RTSP request refused');
      }
      // Once per refused request: a refused check ends it.
      options.events?.emit('authRefused', { protocol: 'rtsp', action: 'read', stream, remoteAddress: ip, result: decision.result, reason: decision.reason });
      reply(ctx, decision.result === 'unauthorized' ? RTSP_STATUS.UNAUTHORIZED : RTSP_STATUS.FORBIDDEN, ip);
      return false;
    } catch (err) {
      // An exception must not escape into node-gtk (it would take the process down).
      options.logger.error({ err, ip }, 'RTSP access check failed');
      try {
        reply(ctx, RTSP_STATUS.INTERNAL, ip);
      } catch {
        // nothing more to do: the client times out
      }
      return false;
    }
  };
  cacheAllowedChecks(auth, options.reuseAllowMs, options.logger);
  return auth;
}
