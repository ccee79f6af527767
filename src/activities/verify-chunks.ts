import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { ChunkRecord } from '../stream/types';

const READ_SIZE = 1 << 20;

export interface VerifyResult {
  /** Indexes of chunks whose bytes on disk no longer match the uploaded object. */
  changed: number[];
  fileSize: number;
}

/**
 * Compares every uploaded chunk with the file as it is now. Recorders rewrite bytes they already
 * wrote (ffmpeg patches the `mdat` size in chunk 0 when it stops; `+faststart` shifts every byte),
 * so this runs before a stream is declared complete. One buffer is reused: memory stays flat.
 */
export async function findChangedChunks(handle: FileHandle, chunks: ChunkRecord[], onChunk?: (index: number) => void): Promise<VerifyResult> {
  const { size: fileSize } = await handle.stat();
  const buffer = Buffer.allocUnsafe(READ_SIZE);
  const changed: number[] = [];
  for (const chunk of chunks) {
    onChunk?.(chunk.index);
    if (chunk.offset + chunk.size > fileSize || (await hashRange(handle, buffer, chunk.offset, chunk.size)) !== chunk.sha256) {
      changed.push(chunk.index);
    }
  }
  return { changed, fileSize };
}

async function hashRange(handle: FileHandle, buffer: Buffer, offset: number, size: number): Promise<string | null> {
  const hash = createHash('sha256');
  for (let done = 0; done < size; ) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - done), offset + done);
    if (bytesRead === 0) return null;
    hash.update(buffer.subarray(0, bytesRead));
    done += bytesRead;
  }
  return hash.digest('hex');
}
