// The OpenAPI 3 document of the whole HTTP API, at /v1/openapi.json, made by @fastify/swagger
// from the routes' own schemas: a route is documented by declaring what it takes and answers,
// and the document cannot drift from the code. Register before the routes (it learns them as
// they are added).
import fastifySwagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import type { OpenAPIV3 } from 'openapi-types';
import { SUPPORTED_CONTENT_TYPES } from '../ingest/content-type';

export function registerOpenApi(app: FastifyInstance, version: string): void {
  void app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'pushgate',
        version,
        description:
          'Live video pushed over HTTP, served over RTSP. Push with POST or PUT /push/<name>; read rtsp://<host>:8554/<name>. ' +
          'Every request but /healthz and /readyz needs credentials with the permission it names (publish for pushes, api for the rest) unless the access config opens it.',
      },
      components: {
        securitySchemes: {
          basic: { type: 'http', scheme: 'basic' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ basic: [] }, { bearer: [] }],
    },
    transformObject: (documentObject) => describeWhepOffers(describePushBodies(nameWildcards((documentObject as { openapiObject: OpenAPIV3.Document }).openapiObject))),
  });
  app.get('/v1/openapi.json', { schema: { hide: true } }, () => app.swagger());
}

/** Fastify's wildcard `*` (a stream name, slashes included) is the parameter `name` here. */
function nameWildcards(document: OpenAPIV3.Document): OpenAPIV3.Document {
  const paths: OpenAPIV3.PathsObject = {};
  for (const [path, item] of Object.entries(document.paths)) {
    for (const operation of Object.values(item ?? {}) as OpenAPIV3.OperationObject[]) {
      for (const parameter of (operation.parameters ?? []) as OpenAPIV3.ParameterObject[]) {
        if (parameter.in === 'path' && parameter.name === '*') parameter.name = 'name';
      }
    }
    paths[path.replace('{*}', '{name}')] = item;
  }
  return { ...document, paths };
}

/** A push's body is a media stream read as it arrives, not JSON: described here, not parsed by a schema. */
function describePushBodies(document: OpenAPIV3.Document): OpenAPIV3.Document {
  const media = { schema: { type: 'string', format: 'binary' } } as const;
  for (const [path, item] of Object.entries(document.paths)) {
    if (!path.startsWith('/push/') || !item) continue;
    for (const operation of [item.post, item.put]) {
      if (!operation) continue;
      operation.requestBody = {
        description: 'The live stream, for as long as it lasts: chunked or with a Content-Length. Without a Content-Type, the first bytes tell the format.',
        required: true,
        content: Object.fromEntries([...SUPPORTED_CONTENT_TYPES, 'application/octet-stream'].map((type) => [type, media])),
      };
    }
  }
  return document;
}

/** A WHEP offer is SDP text, read by its own content-type parser: described here, not validated by a schema. */
function describeWhepOffers(document: OpenAPIV3.Document): OpenAPIV3.Document {
  const post = document.paths['/whep/{name}']?.post;
  if (post) {
    post.requestBody = {
      description: 'An SDP offer (RFC 8866) that receives H.264 video (packetization-mode=1) and optionally Opus audio, its ICE candidates included or not',
      required: true,
      content: { 'application/sdp': { schema: { type: 'string' } } },
    };
  }
  return document;
}
