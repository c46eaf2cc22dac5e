// GET /v1/info: what a client needs to know to use this gateway that it cannot learn from the
// URL it came by: the version and the RTSP ports (the web page builds players' URLs from them).
import type { FastifyInstance } from 'fastify';
import { errorResponses } from './api-schemas';

export interface GatewayInfo {
  readonly version: string;
  /** The ports readers use now; undefined when that listener is off. */
  readonly rtspPorts: () => { readonly rtsp: number | undefined; readonly rtsps: number | undefined };
}

const infoSchema = {
  type: 'object',
  properties: {
    version: { type: 'string', description: "pushgate's version" },
    rtspPort: { type: ['integer', 'null'], description: 'plain RTSP port (rtsp://<host>:<port>/<name>); null when plain RTSP is off' },
    rtspsPort: { type: ['integer', 'null'], description: 'RTSPS port (rtsps://<host>:<port>/<name>); null without TLS' },
  },
  required: ['version', 'rtspPort', 'rtspsPort'],
} as const;

export function registerInfoRoute(app: FastifyInstance, info: GatewayInfo): void {
  app.get('/v1/info', { schema: { summary: 'The version and the RTSP ports (api permission on *)', response: { 200: infoSchema, ...errorResponses } } }, () => {
    const ports = info.rtspPorts();
    return { version: info.version, rtspPort: ports.rtsp ?? null, rtspsPort: ports.rtsps ?? null };
  });
}
