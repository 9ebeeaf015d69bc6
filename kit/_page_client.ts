/// <reference lib="dom" />
/**
 * How the page talks to its daemon: JSON routes and Kubo's RPC API on the
 * page's own origin, uploads with progress, the WAL feed's WebSocket URL,
 * and the API token when the daemon has one (given in the URL's fragment,
 * `#token=...`, which is never sent to a server, or typed into the page;
 * kept in the tab's session storage).
 *
 * @module
 */

/** What `/daemon/info` answers. */
export interface DaemonInfo {
  version: string;
  peerId: string;
  repo: string;
  api: string;
  apiUrl: string;
  gateway: string;
  wal: string;
  feed: string;
  features: string[];
  /** The node's swarm addresses (none when it is offline). */
  swarm?: string[];
}

/** One line of an RPC `add` answer. */
export interface AddedEntry {
  Name: string;
  Hash: string;
  Size: string;
}

/** The daemon wants a (valid) token. */
export class UnauthorizedError extends Error {
  constructor() {
    super("The daemon needs its API token");
    this.name = "UnauthorizedError";
  }
}

const TOKEN_KEY = "ipfs-kit-token";

/** The page's client of its daemon. */
export class ApiClient {
  #token: string | undefined;

  constructor() {
    const fragment = new URLSearchParams(location.hash.slice(1)).get("token");
    if (fragment !== null && fragment !== "") {
      this.token = fragment;
      history.replaceState(null, "", location.pathname + location.search);
    } else {
      this.#token = sessionStorage.getItem(TOKEN_KEY) ?? undefined;
    }
  }

  /** The token in use, if any. */
  get token(): string | undefined {
    return this.#token;
  }

  set token(token: string | undefined) {
    this.#token = token;
    if (token === undefined) sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, token);
  }

  #headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.#token === undefined ? extra : { ...extra, authorization: `Bearer ${this.#token}` };
  }

  /** Fetches a JSON answer from the daemon. */
  async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    const response = await fetch(path, {
      ...init,
      headers: this.#headers(init.headers as Record<string, string> | undefined),
    });
    return await answer<T>(response);
  }

  /** Calls an RPC command (`POST /api/v0/<command>?arg=...`); its JSON answer. */
  async rpc<T>(command: string, args: Record<string, string | string[]> = {}): Promise<T> {
    return await this.json<T>(`/api/v0/${command}?${query(args)}`, { method: "POST" });
  }

  /** Submits an operation to the daemon's WAL. */
  async submit(type: string, params: Record<string, unknown>): Promise<{ id: string }> {
    return await this.json("/api/v0/wal/operations", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type, params }),
    });
  }

  /**
   * Adds files (`/api/v0/add`, not pinned: the page pins through the WAL),
   * telling `onProgress` the bytes sent; XMLHttpRequest is the one browser API
   * that reports an upload's progress.
   */
  upload(
    files: readonly File[],
    onProgress: (sent: number, total: number) => void,
    signal: AbortSignal,
  ): Promise<AddedEntry[]> {
    const form = new FormData();
    for (const file of files) form.append("file", file, file.name);
    const request = new XMLHttpRequest();
    const done = Promise.withResolvers<AddedEntry[]>();
    request.open("POST", `/api/v0/add?${query({ pin: "false", progress: "false" })}`);
    for (const [name, value] of Object.entries(this.#headers())) {
      request.setRequestHeader(name, value);
    }
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    };
    request.onload = () => {
      if (request.status === 401) return done.reject(new UnauthorizedError());
      if (request.status !== 200) {
        return done.reject(new Error(`Cannot add: ${errorText(request.responseText)}`));
      }
      try {
        const lines = request.responseText.split("\n").filter((line) => line.trim() !== "");
        done.resolve(lines.map((line) => JSON.parse(line) as AddedEntry));
      } catch (error) {
        done.reject(error);
      }
    };
    request.onerror = () => done.reject(new Error("Cannot add: the daemon did not answer"));
    request.onabort = () => done.reject(signal.reason ?? new Error("cancelled"));
    signal.addEventListener("abort", () => request.abort(), { once: true });
    request.send(form);
    return done.promise;
  }

  /** The WAL feed's WebSocket URL (the token as `?token=`: a browser's WebSocket sends no header). */
  feedUrl(path: string): string {
    const url = new URL(path, location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    if (this.#token !== undefined) url.searchParams.set("token", this.#token);
    return url.href;
  }
}

function query(args: Record<string, string | string[]>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(args)) {
    for (const one of Array.isArray(value) ? value : [value]) params.append(name, one);
  }
  return params.toString();
}

/** A response's JSON, or its error as an exception. */
async function answer<T>(response: Response): Promise<T> {
  const text = await response.text();
  if (response.status === 401) throw new UnauthorizedError();
  if (!response.ok) throw new Error(errorText(text) || `HTTP ${response.status}`);
  return JSON.parse(text) as T;
}

/** The message of an error body: Kubo's `{Message}`, the http layer's `{error: {message}}`, or text. */
function errorText(text: string): string {
  try {
    const body = JSON.parse(text) as { Message?: string; error?: { message?: string } };
    return body.Message ?? body.error?.message ?? text.trim();
  } catch {
    return text.trim().slice(0, 300);
  }
}

/** What every panel of the page is given. */
export interface PageContext {
  /** The daemon's client. */
  client: ApiClient;
  /** What the daemon said of itself. */
  info: DaemonInfo;
  /** Tells the other panels that content was added or pinned. */
  changed(): void;
  /** Registers a panel's refresh, called by `changed()`. */
  onChange(refresh: () => void): void;
  /** Asks for the token again (the daemon refused the one in use). */
  unauthorized(): void;
}
