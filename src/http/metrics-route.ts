// GET /metrics: Prometheus' text exposition format. Authorised like the /v1 API (the access
// hook asks for `api` on "*" for every path it does not know), so an open gateway answers
// loopback only, and a configured one the users with the api permission.
import type { FastifyInstance } from 'fastify';

/** What the route serves; observability/metrics.ts's GatewayMetrics is one. */
export interface MetricsExposition {
  readonly contentType: string;
  render(): Promise<string>;
}

export function registerMetricsRoute(app: FastifyInstance, metrics: MetricsExposition): void {
  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()));
}
