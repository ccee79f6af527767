/**
 * Every id the workflow passes to `patched()`, with the behaviour it guards. A stream's history
 * records the ids its run took, so that a run started by an older release replays on its old
 * branch. Never rename or remove one while a stream of a release without it may still run.
 */

/**
 * Streams started by this version follow their growing file in long activities (a few history
 * events per chunk instead of about forty); runs started before it replay on the old loop.
 */
export const FOLLOW_FILE_PATCH = 'follow-file';

/**
 * Streams started by this version follow an idle file too (a backlog), so that the follow uploads
 * its chunks and completes it: two activities for a file of up to a batch, where the upload
 * activities and a finalize of four more (each with its workflow task) took a third of a 200 MB
 * file's time on its own.
 */
export const FOLLOW_IDLE_FILE_PATCH = 'follow-idle-file';

/**
 * Streams started by this version end as cancelled, with a cancelled manifest, when an activity
 * the cancel stopped timed out instead (its worker died before it heard of the cancel); earlier
 * runs failed with their manifest still `recording`.
 */
export const CANCELLED_BY_TIMEOUT_PATCH = 'cancelled-by-timeout';

/**
 * Streams started by this version write their failed manifest even when a cancel came first;
 * earlier runs had the cancel stop that activity, and ended with their live manifest.
 */
export const FAILED_WHILE_CANCELLED_PATCH = 'failed-while-cancelled';

/**
 * Streams started by this version treat a follow they cancelled for a pause as stopped however it
 * ended: cancelled after a resume came, or timed out because its worker died first. Earlier runs
 * cancelled the stream in the first case and failed it in the second.
 */
export const PAUSED_FOLLOW_ENDS_PATCH = 'paused-follow-ends';

/** Streams started by this version delete their file after completing with AFTER_UPLOAD=delete. */
export const DELETE_AFTER_UPLOAD_PATCH = 'delete-after-upload';
