// Limits of what the write-ahead log accepts: the log checks them, and the
// HTTP API checks them up front. Private to the WAL.

/** The longest operation type, in characters. */
export const MAX_TYPE_LENGTH = 256;
/** The most operations one `list()` page holds. */
export const MAX_LIST_LIMIT = 10_000;
