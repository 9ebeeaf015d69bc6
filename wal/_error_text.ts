// Errors as the write-ahead log keeps them in text: an operation's (and a
// health monitor's) `lastError`, and the causes quoted in the messages of
// its own errors. Private to the WAL.

const MAX_ERROR_LENGTH = 4096;

/** `"Name: message"` of an error, as operations keep it, at most 4 KiB. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return truncate(`${error.name}: ${error.message}`);
  return truncate(String(error));
}

/** Cuts a text to the length operations keep. */
export function truncate(text: string): string {
  return text.length > MAX_ERROR_LENGTH ? text.slice(0, MAX_ERROR_LENGTH - 1) + "\u2026" : text;
}

/** An error's message (anything else as a string), to quote as a cause. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** The type of a value for a message: `null`, its class's name, or `typeof`. */
export function typeName(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return value.constructor?.name ?? "object";
  return typeof value;
}
