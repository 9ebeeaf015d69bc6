/**
 * A file's content type for the gateway: by the name's extension, else
 * sniffed from its first bytes (magic numbers; UTF-8 text without NULs is
 * `text/plain`), else `application/octet-stream`.
 *
 * @module
 */

const BY_EXTENSION: Record<string, string> = {
  html: "text/html; charset=utf-8",
  htm: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  json: "application/json",
  txt: "text/plain; charset=utf-8",
  md: "text/markdown; charset=utf-8",
  xml: "application/xml",
  svg: "image/svg+xml",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  avif: "image/avif",
  ico: "image/x-icon",
  wasm: "application/wasm",
  pdf: "application/pdf",
  zip: "application/zip",
  gz: "application/gzip",
  tar: "application/x-tar",
  mp4: "video/mp4",
  webm: "video/webm",
  mp3: "audio/mpeg",
  ogg: "audio/ogg",
  wav: "audio/wav",
  woff: "font/woff",
  woff2: "font/woff2",
};

const MAGIC: Array<[number[], string]> = [
  [[0x89, 0x50, 0x4e, 0x47], "image/png"],
  [[0xff, 0xd8, 0xff], "image/jpeg"],
  [[0x47, 0x49, 0x46, 0x38], "image/gif"],
  [[0x25, 0x50, 0x44, 0x46], "application/pdf"],
  [[0x50, 0x4b, 0x03, 0x04], "application/zip"],
  [[0x1f, 0x8b], "application/gzip"],
  [[0x00, 0x61, 0x73, 0x6d], "application/wasm"],
];

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * The content type of a file named `name` whose content starts with `head`.
 *
 * @param name The last name of its path (`""` for a bare CID).
 * @param head Its first bytes (up to 512 are looked at).
 */
export function contentType(name: string, head: Uint8Array): string {
  const dot = name.lastIndexOf(".");
  if (dot > 0) {
    const known = BY_EXTENSION[name.slice(dot + 1).toLowerCase()];
    if (known !== undefined) return known;
  }
  const sample = head.subarray(0, 512);
  for (const [magic, type] of MAGIC) {
    if (magic.every((byte, i) => sample[i] === byte)) return type;
  }
  if (sample.length === 0) return "text/plain; charset=utf-8";
  // Cut at the last whole UTF-8 sequence before checking.
  let end = sample.length;
  for (let back = 1; back <= 3 && end - back >= 0; back++) {
    const byte = sample[end - back];
    if ((byte & 0xc0) === 0xc0) {
      end -= back;
      break;
    }
    if ((byte & 0x80) === 0) break;
  }
  let text: string;
  try {
    text = decoder.decode(sample.subarray(0, end));
  } catch {
    return "application/octet-stream";
  }
  if (text.includes("\0")) return "application/octet-stream";
  if (/^\s*(<!doctype html|<html|<head|<body)/i.test(text)) return "text/html; charset=utf-8";
  if (/^\s*<svg[\s>]/i.test(text)) return "image/svg+xml";
  return "text/plain; charset=utf-8";
}
