/**
 * The daemon's web page: its HTML document and its style sheet, served as
 * they are (`/` and `/page.css`); the script (`/page.js`) is the bundle of
 * `_page_main.ts`. Panels marked `data-feature` stay hidden unless the
 * daemon lists that feature in `/daemon/info` (`network`: the node has
 * peers; an extension's name for its own panel, such as `webrtc`, or for
 * a part of one: `discovery` in the Peers panel).
 *
 * @module
 */

/** The HTML document at `/`. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ipfs-kit</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/page.css">
<script type="module" src="/page.js"></script>
</head>
<body>
<header>
  <h1>ipfs-kit</h1>
  <p id="status" role="status">Connecting to the daemon...</p>
</header>
<form id="token-form" hidden>
  <label for="token-input">This daemon needs its API token</label>
  <input id="token-input" type="password" autocomplete="off" required minlength="16">
  <button type="submit">Use token</button>
</form>
<main id="panels" hidden>
  <section id="add" aria-labelledby="add-title">
    <h2 id="add-title">Add files</h2>
    <div id="drop-zone" tabindex="0" role="button" aria-describedby="drop-help">
      Drop files here, or press Enter to choose files
    </div>
    <p id="drop-help" class="help">Each file is added (as <code>kit add</code> does), then pinned by an operation of the WAL.</p>
    <input id="file-input" type="file" multiple hidden>
    <progress id="add-progress" max="1" value="0" hidden></progress>
    <p id="add-status" aria-live="polite"></p>
    <ul id="add-results"></ul>
  </section>
  <section id="recent" aria-labelledby="recent-title">
    <h2 id="recent-title">Recent adds and pins</h2>
    <button id="recent-refresh" type="button">Refresh</button>
    <ol id="recent-list"></ol>
  </section>
  <section id="browse" aria-labelledby="browse-title">
    <h2 id="browse-title">Browse a CID</h2>
    <form id="browse-form">
      <label for="browse-path">CID or path</label>
      <input id="browse-path" required spellcheck="false" placeholder="bafy.../dir/file">
      <button type="submit">Browse</button>
    </form>
    <div id="browse-result" aria-live="polite"></div>
  </section>
  <section id="wal" aria-labelledby="wal-title">
    <h2 id="wal-title">WAL feed</h2>
    <p id="wal-status" role="status">Not connected</p>
    <button id="wal-reconnect" type="button" hidden>Reconnect</button>
    <ol id="wal-list"></ol>
  </section>
  <section id="peers" data-feature="network" aria-labelledby="peers-title" hidden>
    <h2 id="peers-title">Peers</h2>
    <button id="peers-refresh" type="button">Refresh</button>
    <p id="swarm-addresses" class="help"></p>
    <h3>Connected</h3>
    <p id="peers-status" role="status"></p>
    <ul id="peers-list"></ul>
    <div id="discovered" data-feature="discovery" hidden>
      <h3>Discovered</h3>
      <p id="discovered-status" role="status"></p>
      <ul id="discovered-list"></ul>
    </div>
  </section>
  <section id="webrtc" data-feature="webrtc" aria-labelledby="webrtc-title" hidden>
    <h2 id="webrtc-title">Stream over WebRTC</h2>
    <form id="webrtc-form">
      <label for="webrtc-cid">CID or path (or a recent add)</label>
      <input id="webrtc-cid" list="webrtc-recent" required spellcheck="false" autocomplete="off" placeholder="bafy.../dir/file">
      <datalist id="webrtc-recent"></datalist>
      <button id="webrtc-start" type="submit">Stream</button>
      <button id="webrtc-cancel" type="button" hidden>Cancel</button>
    </form>
    <p class="help">Streamed from the daemon over a WebRTC data channel; this page checks every block against its CID before it keeps a byte.</p>
    <progress id="webrtc-progress" max="1" value="0" hidden></progress>
    <p id="webrtc-status" role="status" aria-live="polite"></p>
    <dl id="webrtc-stats"></dl>
    <div id="webrtc-result"></div>
  </section>
</main>
</body>
</html>
`;

/** The style sheet at `/page.css`. */
export const PAGE_CSS = `:root { color-scheme: light dark; font-family: system-ui, sans-serif; }
[hidden] { display: none !important; }
body { margin: 0 auto; max-width: 72rem; padding: 1rem; }
header { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap; }
h1 { margin: 0; font-size: 1.5rem; }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(22rem, 1fr)); gap: 1rem; }
section { border: 1px solid #8886; border-radius: 0.5rem; padding: 0 1rem 1rem; min-width: 0; }
h2 { font-size: 1.1rem; }
#drop-zone { border: 2px dashed #888; border-radius: 0.5rem; padding: 2rem 1rem; text-align: center; cursor: pointer; }
#drop-zone.over, #drop-zone:focus { border-color: #36c; outline: none; background: #36c2; }
progress { width: 100%; }
ol, ul { padding-left: 1.25rem; }
li, p { margin: 0.25rem 0; overflow-wrap: anywhere; }
code, .cid { font-family: ui-monospace, monospace; font-size: 0.9em; }
.help { font-size: 0.85em; opacity: 0.8; }
.state-completed { color: #2a2; } .state-failed { color: #c33; } .state-cancelled { opacity: 0.6; }
.error { color: #c33; }
pre { white-space: pre-wrap; max-height: 16rem; overflow: auto; background: #8881; padding: 0.5rem; }
img.preview { max-width: 100%; max-height: 16rem; }
#webrtc-stats { display: grid; grid-template-columns: max-content 1fr; gap: 0.1rem 0.75rem; margin: 0.5rem 0; }
#webrtc-stats dd { margin: 0; }
.verified { color: #2a2; font-weight: bold; }
:focus-visible { outline: 2px solid #36c; outline-offset: 2px; }
`;
