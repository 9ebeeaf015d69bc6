/**
 * The gateway's HTML directory listing: every name escaped, links relative
 * to the directory's own URL (which ends in `/`), each entry's CID and size.
 *
 * @module
 */

import type { LsEntry } from "../ipfs/content_store.ts";

/** Text as HTML, every markup character escaped. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/**
 * The listing page of the directory at `path` (`/ipfs/<cid>/...`, ending
 * in `/`).
 *
 * @param path The directory's URL path.
 * @param entries Its entries.
 */
export function directoryListing(path: string, entries: readonly LsEntry[]): string {
  const rows = entries.map((entry) => {
    const name = entry.type === "directory" ? `${entry.name}/` : entry.name;
    const size = entry.type === "directory" ? "-" : String(entry.size);
    return `<tr><td><a href="./${escapeHtml(encodeURIComponent(entry.name))}${
      entry.type === "directory" ? "/" : ""
    }">${escapeHtml(name)}</a></td><td><code>${
      escapeHtml(entry.cid.toString())
    }</code></td><td>${size}</td></tr>`;
  });
  const parent = path.split("/").filter((part) => part !== "").length > 2
    ? `<tr><td><a href="../">..</a></td><td></td><td></td></tr>`
    : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(path)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><h1>Index of ${escapeHtml(path)}</h1>
<table><thead><tr><th>Name</th><th>CID</th><th>Size</th></tr></thead><tbody>
${parent}${rows.join("\n")}
</tbody></table></body></html>
`;
}
