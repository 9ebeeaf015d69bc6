// The records of the crash trials: type and payload are functions of the
// record's id, so the parent can check every byte it reads back.

/** The record type of record `id`: 1 to 200. */
export function crashType(id: number): number {
  return 1 + (id % 200);
}

/** The payload of record `id`: its id (u32) and 0 to 400 bytes derived from it. */
export function crashPayload(id: number): Uint8Array {
  const length = 4 + ((id * 2654435761) >>> 0) % 401;
  const bytes = new Uint8Array(length);
  new DataView(bytes.buffer).setUint32(0, id, true);
  for (let i = 4; i < length; i++) bytes[i] = (id + i * 131) & 0xff;
  return bytes;
}

/** The id a payload names. */
export function crashId(payload: Uint8Array): number {
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint32(0, true);
}
