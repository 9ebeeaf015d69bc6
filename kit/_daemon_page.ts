/**
 * Serving the daemon's web page: the document and style sheet of
 * `_page_document.ts`, and the script, the bundle of `_page_main.ts` made
 * by `deno bundle --platform browser` the first time it is asked for (from
 * the package's own sources, wherever they are: a checkout or the module
 * cache) and kept in memory. Nothing is written to disk and nothing outside
 * the daemon is loaded by the page: it works offline.
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import { PAGE_CSS, PAGE_HTML } from "./_page_document.ts";

/** The page's paths: served without a token (they hold no secret; the page asks for it). */
export const PAGE_PATHS: readonly string[] = ["/", "/page.js", "/page.css"];

const ENTRY = new URL("./_page_main.ts", import.meta.url);

interface Bundle {
  bytes: Uint8Array<ArrayBuffer>;
  etag: string;
}

/** The page's files for one daemon. */
export class PageAssets {
  readonly #signal: AbortSignal;
  #bundle: Promise<Bundle> | undefined;

  /**
   * @param signal Stops a bundle build in progress (the daemon stops).
   */
  constructor(signal: AbortSignal) {
    this.#signal = signal;
  }

  /** `/`: the document, with a policy that lets it load only itself and reach the gateway. */
  document(url: URL, gateway: string): Response {
    const ws = `ws://${url.host}`;
    const policy = [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      `connect-src 'self' ${ws} ${gateway}`,
      // blob: the WebRTC panel's preview of the bytes it streamed and verified.
      `img-src 'self' data: blob: ${gateway}`,
      `media-src blob: ${gateway}`,
      "frame-ancestors 'none'",
      "base-uri 'none'",
      "form-action 'none'",
    ].join("; ");
    return new Response(PAGE_HTML, {
      headers: {
        "content-type": "text/html; charset=utf-8",
        "content-security-policy": policy,
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "cache-control": "no-cache",
      },
    });
  }

  /** `/page.css`. */
  styles(): Response {
    return new Response(PAGE_CSS, {
      headers: {
        "content-type": "text/css; charset=utf-8",
        "x-content-type-options": "nosniff",
        "cache-control": "no-cache",
      },
    });
  }

  /** `/page.js`: the bundle, built once. */
  async script(request: Request): Promise<Response> {
    const bundle = await (this.#bundle ??= this.#build());
    const headers = {
      "content-type": "text/javascript; charset=utf-8",
      "x-content-type-options": "nosniff",
      "cache-control": "no-cache",
      etag: bundle.etag,
    };
    if (request.headers.get("if-none-match") === bundle.etag) {
      return new Response(null, { status: 304, headers });
    }
    return new Response(bundle.bytes, { headers });
  }

  /** Waits for a build in progress (stopped by the signal) to end. */
  async close(): Promise<void> {
    await this.#bundle?.catch(() => {});
  }

  async #build(): Promise<Bundle> {
    let output: Deno.CommandOutput;
    try {
      output = await new Deno.Command(Deno.execPath(), {
        args: ["bundle", "--platform", "browser", "--no-config", "--no-lock", ENTRY.href],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
        signal: this.#signal,
      }).output();
    } catch (error) {
      this.#bundle = undefined;
      throw new HttpError(
        500,
        "page_unavailable",
        `Cannot build the page: ${error instanceof Error ? error.message : String(error)}` +
          " (the daemon runs `deno bundle`: it needs --allow-run)",
        { cause: error },
      );
    }
    if (!output.success) {
      this.#bundle = undefined;
      const why = new TextDecoder().decode(output.stderr).trim().split("\n").slice(-3).join(" ");
      throw new HttpError(500, "page_unavailable", `Cannot build the page: ${why}`);
    }
    const bytes = output.stdout as Uint8Array<ArrayBuffer>;
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    const etag = `"${
      Array.from(digest.subarray(0, 12), (b) => b.toString(16).padStart(2, "0")).join("")
    }"`;
    return { bytes, etag };
  }
}
