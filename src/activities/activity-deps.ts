import type { S3Client } from '@aws-sdk/client-s3';
import type { FollowedStreams } from '../followed-streams';
import type { StreamMetrics } from '../metrics';
import type { ChunkBuffers } from './store/chunk-buffers';
import type { ChunkFingerprints } from './file/chunk-fingerprints';
import type { UploadRate } from './store/upload-rate';
import type { Slots } from './slots';

/** What the stream activities of one process share: its bucket, its files, its metrics. */
export interface ActivityDeps {
  s3: S3Client;
  bucket: string;
  watchDir: string;
  metrics: StreamMetrics;
  /** Shared by every stream of the process: at most this many chunk uploads at once. */
  uploadSlots: Slots;
  /** Shared by every stream of the process: at most this many checks of a file against its chunks at once. */
  checkSlots: Slots;
  /** Shared by every stream of the process: UPLOAD_RATE_LIMIT; absent: no limit. */
  rate?: UploadRate;
  /** Shared by every stream of the process: one reusable buffer per chunk upload in flight. */
  buffers: ChunkBuffers;
  /** Shared by every stream of the process: the fingerprints of the chunks it read to upload. */
  fingerprints: ChunkFingerprints;
  /** Shared with the watcher, which does not signal the growth of a followed file. */
  followed: FollowedStreams;
  completionWebhookUrl?: string;
  /** S3_PREFIX: the stream names in activity inputs must be the ones it gives. */
  s3Prefix: string;
}
