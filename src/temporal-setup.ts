import { isGrpcServiceError, type Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { SearchAttributeType } from '@temporalio/common';
import { STREAM_SEARCH_ATTRIBUTES } from './stream/search-attributes';

const INDEXED_TYPES: Partial<Record<SearchAttributeType, temporal.api.enums.v1.IndexedValueType>> = {
  [SearchAttributeType.KEYWORD]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  [SearchAttributeType.INT]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT,
};

/** gRPC's NOT_FOUND: the frontend does not know the namespace (yet). */
const NOT_FOUND = 5;

/**
 * Registers the stream search attributes the namespace lacks, so the app works against any
 * Temporal server (dev server, compose, cloud with permissions) with no manual step.
 *
 * A namespace created a moment ago (the compose's temporal-create-namespace job, right before the
 * app starts) stays unknown to a SQL-backed server's ListSearchAttributes until its namespace
 * registry refreshes (every 2 s by default): that NOT_FOUND is waited out for `namespaceWaitMs`,
 * then thrown.
 */
export async function registerSearchAttributes(
  connection: Connection,
  namespace: string,
  namespaceWaitMs = 30_000,
): Promise<string[]> {
  const deadline = Date.now() + namespaceWaitMs;
  const list = async (): Promise<temporal.api.operatorservice.v1.IListSearchAttributesResponse> => {
    for (;;) {
      try {
        return await connection.operatorService.listSearchAttributes({ namespace });
      } catch (err) {
        if (!isGrpcServiceError(err) || err.code !== NOT_FOUND || Date.now() >= deadline) throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  };
  const { customAttributes } = await list();
  const missing = STREAM_SEARCH_ATTRIBUTES.filter((key) => !customAttributes?.[key.name]);
  if (missing.length === 0) return [];
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((key) => [key.name, INDEXED_TYPES[key.type]!])),
  });
  return missing.map((key) => key.name);
}
