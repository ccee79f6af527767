import type { FileIdentity, StreamRef } from './types';

/**
 * Derives a stream's names from the file's path and identity. The identity is part of every name
 * so that a new recording saved under an old name never overwrites the old one's objects.
 */
export function streamRef(relPath: string, identity: FileIdentity, s3Prefix: string): StreamRef {
  const token = `${identity.ino}-${Math.trunc(identity.birthtimeMs)}`;
  const streamId = `${relPath}@${token}`;
  return {
    streamId,
    workflowId: `stream:${streamId}`,
    relPath,
    prefix: [s3Prefix, relPath, token].filter((part) => part !== '').join('/'),
    identity: { ino: identity.ino, birthtimeMs: Math.trunc(identity.birthtimeMs) },
  };
}

/** The path and identity a workflow id was derived from (see `streamRef`); null for other ids. */
export function parseWorkflowId(workflowId: string): { relPath: string; identity: FileIdentity } | null {
  const match = /^stream:(.+)@(\d+)-(\d+)$/.exec(workflowId);
  return match ? { relPath: match[1], identity: { ino: Number(match[2]), birthtimeMs: Number(match[3]) } } : null;
}

/** Whether `candidate` names the same file as `identity` (birth time 0 means "not recorded"). */
export function sameFile(identity: FileIdentity, candidate: FileIdentity): boolean {
  return identity.ino === candidate.ino && Math.trunc(identity.birthtimeMs) === Math.trunc(candidate.birthtimeMs);
}
