// The web page: every file of web/ (index.html at /, its script and style, the publish page),
// served as it is on disk. Open like /healthz: the files hold no data; everything the page shows
// comes from the API and WHEP, with the viewer's own credentials.
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import path from 'node:path';
import { OPEN_ROUTE } from './access-hook';

/** web/ at the repository root (dist/src/http/ → the root). */
export const WEB_ROOT = path.resolve(__dirname, '../../../web');

/**
 * The page's own policy: its script, style and the API of its own origin, nothing else, and no
 * framing (so a page elsewhere cannot overlay it). The publish page sets none: it is its own.
 */
const INDEX_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "media-src 'self' blob:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function registerWebRoutes(app: FastifyInstance, root = WEB_ROOT): void {
  void app.register(async (web) => {
    // Every route of this context (the plugin adds one per file) is open to anyone.
    web.addHook('onRoute', (route) => {
      route.config = { ...route.config, ...OPEN_ROUTE };
    });
    await web.register(fastifyStatic, {
      root,
      // One route per file found at start-up, no catch-all: an unknown path stays a plain 404
      // behind the access check, and no route of the API can be shadowed.
      wildcard: false,
      index: 'index.html',
      // Revalidated on every load (ETag, Last-Modified: 304s), so a new version shows at once.
      cacheControl: true,
      maxAge: 0,
      decorateReply: false,
      setHeaders: (res, file) => {
        res.setHeader('x-content-type-options', 'nosniff');
        res.setHeader('referrer-policy', 'no-referrer');
        if (path.basename(file) === 'index.html') res.setHeader('content-security-policy', INDEX_POLICY);
      },
    });
  });
}
