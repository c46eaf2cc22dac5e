// JSON schemas of what the HTTP API answers, shared by the routes: Fastify serializes answers
// with them, and the OpenAPI document (openapi.ts) is made from them.
import { ErrorCodes } from '../core/errors';

export const errorSchema = {
  type: 'object',
  description: 'Every error: `code` is literal and documented (docs/api.md), `message` is for people.',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string', enum: [...Object.keys(ErrorCodes), 'INTERNAL'] }, message: { type: 'string' } },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
} as const;

/** The error answers every route can give. */
export const errorResponses = { '4xx': errorSchema, '5xx': errorSchema } as const;

/** A stream name after the route's prefix (it may hold slashes). */
export const streamParams = { type: 'object', properties: { '*': { type: 'string', description: 'the stream name, e.g. site1/cam' } } } as const;

export const pushSummarySchema = {
  type: 'object',
  properties: {
    stream: { type: 'string' },
    bytes: { type: 'integer', description: 'body bytes read' },
    durationMs: { type: 'integer' },
    frames: { type: 'integer', description: 'video frames read' },
  },
  required: ['stream', 'bytes', 'durationMs', 'frames'],
} as const;

export const streamSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    state: { type: 'string', enum: ['starting', 'live', 'grace'], description: 'starting: parameter sets awaited; grace: the publisher is gone and readers wait for it' },
    format: { type: 'string', enum: ['h264', 'h265', 'mpegts', 'matroska'] },
    video: {
      type: ['object', 'null'],
      properties: {
        codec: { type: 'string' },
        width: { type: 'integer' },
        height: { type: 'integer' },
        frameRate: { type: ['number', 'null'] },
        profile: { type: ['string', 'null'] },
      },
    },
    audio: { type: ['object', 'null'], properties: { codec: { type: 'string' }, sampleRate: { type: 'integer' }, channels: { type: 'integer' } } },
    bitrateKbps: { type: 'integer' },
    bytesIn: { type: 'integer' },
    framesIn: { type: 'integer' },
    readers: { type: 'integer', description: 'RTSP readers (a watched stream\'s WebRTC relay is one)' },
    webrtcWatchers: { type: 'integer', description: 'WebRTC (WHEP) watchers' },
    publisher: { type: ['object', 'null'], properties: { remoteAddress: { type: 'string' }, ingest: { type: 'string', enum: ['native', 'node'] } } },
    liveSince: { type: ['string', 'null'], format: 'date-time' },
  },
  required: ['name', 'state', 'format', 'video', 'audio', 'bitrateKbps', 'bytesIn', 'framesIn', 'readers', 'webrtcWatchers', 'publisher', 'liveSince'],
} as const;

/** A push that failed after it started also says how far it got. */
export const pushErrorSchema = {
  ...errorSchema,
  properties: { ...errorSchema.properties, push: pushSummarySchema },
} as const;
