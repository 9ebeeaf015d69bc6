/// <reference lib="dom" />
/**
 * The daemon's web page, in the browser: asks the daemon about itself
 * (`/daemon/info`), for its token when it has one, then wires the panels
 * (Add, Recent, Browse, WAL) and those of the features (Peers, WebRTC) the daemon serves
 * (a section marked `data-feature="<name>"` shows only when the daemon
 * lists that feature). Bundled by `deno bundle --platform browser` when the
 * daemon first serves `/page.js`.
 *
 * @module
 */

import { mountAdd } from "./_page_add.ts";
import { mountBrowse } from "./_page_browse.ts";
import { ApiClient, type DaemonInfo, type PageContext, UnauthorizedError } from "./_page_client.ts";
import { byId, messageOf, show } from "./_page_dom.ts";
import { mountFeed } from "./_page_feed.ts";
import { mountDiscovered, mountPeers } from "./_page_peers.ts";
import { mountRecent } from "./_page_recent.ts";
import { mountWebRtc } from "./_page_webrtc.ts";

/** The panels of features the daemon may serve, by feature name. */
const FEATURE_PANELS: Record<string, (context: PageContext) => void> = {
  network: mountPeers,
  discovery: mountDiscovered,
  webrtc: mountWebRtc,
};

async function start(client: ApiClient): Promise<void> {
  const status = byId("status");
  let info: DaemonInfo;
  try {
    info = await client.json<DaemonInfo>("/daemon/info");
  } catch (error) {
    if (error instanceof UnauthorizedError) return askForToken(client);
    show(status, `Cannot reach the daemon: ${messageOf(error)}`);
    return;
  }
  show(
    status,
    `Node ${info.peerId.slice(0, 16)}... | ipfs-kit ${info.version} | gateway ${info.gateway}`,
  );
  const refreshes: (() => void)[] = [];
  const context: PageContext = {
    client,
    info,
    changed: () => refreshes.forEach((refresh) => refresh()),
    onChange: (refresh) => void refreshes.push(refresh),
    unauthorized: () => askForToken(client),
  };
  byId("token-form").hidden = true;
  byId("panels").hidden = false;
  mountAdd(context);
  mountRecent(context);
  mountBrowse(context);
  mountFeed(context);
  for (const section of document.querySelectorAll<HTMLElement>("[data-feature]")) {
    const feature = section.dataset.feature ?? "";
    if (!info.features.includes(feature)) continue;
    section.hidden = false;
    FEATURE_PANELS[feature]?.(context);
  }
}

function askForToken(client: ApiClient): void {
  const form = byId<HTMLFormElement>("token-form");
  const input = byId<HTMLInputElement>("token-input");
  byId("panels").hidden = true;
  show(byId("status"), client.token === undefined ? "A token is needed" : "That token was refused");
  client.token = undefined;
  form.hidden = false;
  input.focus();
  form.onsubmit = (event) => {
    event.preventDefault();
    client.token = input.value;
    input.value = "";
    form.hidden = true;
    location.reload();
  };
}

void start(new ApiClient());
