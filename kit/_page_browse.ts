/// <reference lib="dom" />
/**
 * The page's Browse panel: a CID or a path below one, stat'ed and listed
 * through the RPC API, its files opened and previewed through the gateway
 * (text as text, the first 4 KiB; images as images).
 *
 * @module
 */

import { type PageContext, UnauthorizedError } from "./_page_client.ts";
import { byId, el, formatBytes, messageOf, show } from "./_page_dom.ts";

interface Stat {
  Hash: string;
  Size: number;
  CumulativeSize: number;
  Type: "file" | "directory" | "symlink";
}

interface Listing {
  Objects: { Hash: string; Links: { Name: string; Hash: string; Size: number; Type: number }[] }[];
}

const PREVIEW_BYTES = 4096;

/** Wires the Browse panel. */
export function mountBrowse(context: PageContext): void {
  const form = byId<HTMLFormElement>("browse-form");
  const input = byId<HTMLInputElement>("browse-path");
  const result = byId("browse-result");

  const browse = async (path: string) => {
    const clean = path.trim().replace(/^\/ipfs\//, "").replace(/\/+$/, "");
    if (clean === "") return;
    input.value = clean;
    show(result, "Looking...");
    try {
      const stat = await context.client.rpc<Stat>("files/stat", { arg: `/ipfs/${clean}` });
      const url = `${context.info.gateway}/ipfs/${encodePath(clean)}`;
      const head = el(
        "p",
        {},
        `${stat.Type} of ${
          formatBytes(stat.Type === "directory" ? stat.CumulativeSize : stat.Size)
        } `,
        el("code", { class: "cid" }, stat.Hash),
        " | ",
        el(
          "a",
          { href: url, target: "_blank", rel: "noopener", class: "gateway-link" },
          "open through the gateway",
        ),
      );
      if (stat.Type === "directory") {
        const listing = await context.client.rpc<Listing>("ls", { arg: clean });
        const links = listing.Objects[0]?.Links ?? [];
        const entries = links.map((link) => {
          const below = `${clean}/${link.Name}`;
          const button = el(
            "button",
            { type: "button" },
            link.Type === 1 ? `${link.Name}/` : link.Name,
          );
          button.addEventListener("click", () => void browse(below));
          return el("li", {}, button, link.Type === 1 ? "" : ` ${formatBytes(link.Size)}`);
        });
        show(result, head, el("ul", { class: "listing" }, ...entries));
      } else {
        show(result, head, await preview(url, clean));
      }
    } catch (error) {
      if (error instanceof UnauthorizedError) context.unauthorized();
      show(result, el("p", { class: "error" }, messageOf(error)));
    }
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void browse(input.value);
  });
}

/** A preview of a file from the gateway: an image, or the first bytes of text. */
async function preview(url: string, path: string): Promise<HTMLElement | string> {
  if (/\.(png|jpe?g|gif|webp|svg|avif)$/i.test(path)) {
    return el("img", { src: url, alt: `preview of ${path}`, class: "preview" });
  }
  const response = await fetch(url, { headers: { range: `bytes=0-${PREVIEW_BYTES - 1}` } });
  const type = response.headers.get("content-type") ?? "";
  if (!response.ok) {
    await response.body?.cancel();
    return `The gateway answered ${response.status}`;
  }
  if (!/^(text\/|application\/(json|javascript|xml))/.test(type)) {
    await response.body?.cancel();
    return `(${type || "unknown type"}: no preview)`;
  }
  return el("pre", { class: "preview" }, await response.text());
}

function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}
