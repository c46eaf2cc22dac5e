// The question every protocol asks. Two answer it: the configured users (AccessPolicy) and an
// external HTTP authoriser (create-authorizer.ts picks one).
import type { AccessPolicy, AccessRequest, Decision } from './access-policy';

export type Protocol = 'http' | 'rtsp';

export interface AuthRequest extends AccessRequest {
  readonly protocol: Protocol;
}

export interface Authorizer {
  readonly realm: string;
  /** The configured policy (undefined when an external authoriser decides). */
  readonly policy: AccessPolicy | undefined;
  /** How long an answer may be reused (an external authoriser's cache); undefined: as long as the process runs. */
  readonly answerCacheMs?: number | undefined;
  decide(request: AuthRequest): Promise<Decision>;
  /** The same decision, synchronously (for RTSP's access check). */
  decideSync(request: AuthRequest): Decision;
  close(): void;
}
