// The one place errors become HTTP: PushgateError codes map to their status, anything else is
// our bug and a 500.
import type { FastifyReply } from 'fastify';
import { isPushgateError } from '../core/errors';

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

export function errorBody(err: unknown): { status: number; body: ErrorBody } {
  if (isPushgateError(err)) return { status: err.status, body: { error: { code: err.code, message: err.message } } };
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error' } } };
}

export function sendError(reply: FastifyReply, err: unknown, extra: Record<string, unknown> = {}): FastifyReply {
  const { status, body } = errorBody(err);
  return reply.code(status).send({ ...body, ...extra });
}
