import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Custom search attributes that make streams findable in the Web UI and CLI. */
export const StreamPathKey = defineSearchAttributeKey('StreamPath', SearchAttributeType.KEYWORD);
export const StreamStatusKey = defineSearchAttributeKey('StreamStatus', SearchAttributeType.KEYWORD);
export const StreamBytesUploadedKey = defineSearchAttributeKey('StreamBytesUploaded', SearchAttributeType.INT);

export const STREAM_SEARCH_ATTRIBUTES = [StreamPathKey, StreamStatusKey, StreamBytesUploadedKey];

/**
 * A string as a literal of a visibility query: a path or a task queue may hold quotes and
 * backslashes, which would otherwise end the literal and break (or change) the query.
 */
export function visibilityString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
