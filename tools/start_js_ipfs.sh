#!/usr/bin/env bash
# Starts a throwaway js-ipfs daemon (ipfs@0.66.1, pinned in tools/js-ipfs) on
# 127.0.0.1 for ipfs-kit's tests, or stops one.
#
#   tools/start_js_ipfs.sh [--install]   start; prints shell `export` lines
#   tools/start_js_ipfs.sh stop [DIR]    stop the daemon started in DIR
#                                        (default: $IPFS_KIT_JS_IPFS_DIR)
#   tools/start_js_ipfs.sh restart [DIR] start the daemon of DIR again, on the
#                                        same repository and the same API port,
#                                        after it was stopped or killed (e.g.
#                                        `kill "$(cat DIR/daemon.pid)"`, to
#                                        test an outage); prints the same lines
#
# Start prints, on stdout and nothing else:
#   export IPFS_KIT_KUBO_API=http://127.0.0.1:<port>
#   export IPFS_KIT_JS_IPFS_DIR=<state dir>
# so `eval "$(tools/start_js_ipfs.sh)"` sets both. The state dir holds the
# repository (repo/), the daemon's log (daemon.log), its pid (daemon.pid) and
# the API URL (api_url). `stop` kills that pid and removes the state dir.
# `restart` keeps the repository (its blocks, pins and config, so the API
# and gateway ports too); it refuses while the daemon's pid is alive, and
# removes the repository lock a killed daemon left behind (js-ipfs would
# otherwise refuse to open the repository for 20 s).
#
# Environment:
#   IPFS_KIT_JS_IPFS_DIR   state dir to use on start (default: a new mktemp -d dir)
#   JS_IPFS_API_PORT       API port (default: a free port)
#   JS_IPFS_START_TIMEOUT  seconds to wait for the API (default: 60)
#   JS_IPFS_SWARM          1: also listen for libp2p peers on loopback TCP
#                          (/ip4/127.0.0.1/tcp/0, a free port; `ipfs id`
#                          lists it), so other nodes can `swarm connect` to
#                          it and it to them. js-ipfs 0.66.1 can use TCP only
#                          with the loader hook js-ipfs/multiaddr_hook.mjs
#                          (why: in its header), which this adds to the
#                          daemon's NODE_OPTIONS. Kept for `restart` (the
#                          state dir's `swarm` file). Default: off.
#
# The repository is made for a sandbox: no swarm listeners (unless
# JS_IPFS_SWARM=1: loopback only), no bootstrap peers, no delegates, no MDNS
# or WebRTC-star discovery, no preload. Nothing but the API and the gateway
# listens, and both only on 127.0.0.1.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pkg="$here/js-ipfs"
jsipfs="$pkg/node_modules/.bin/jsipfs"
polyfill="$pkg/promise_with_resolvers.cjs"
hook="$pkg/multiaddr_hook.mjs"

log() { printf 'start_js_ipfs: %s\n' "$*" >&2; }
die() {
  log "$*"
  exit 1
}

stop() {
  local dir="${1:-${IPFS_KIT_JS_IPFS_DIR:-}}"
  [ -n "$dir" ] || die "Cannot stop: no state dir given and IPFS_KIT_JS_IPFS_DIR is unset"
  [ -d "$dir" ] || die "Cannot stop: no such state dir: $dir"
  if [ -f "$dir/daemon.pid" ]; then
    local pid
    pid="$(cat "$dir/daemon.pid")"
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      if kill -0 "$pid" 2>/dev/null; then
        log "daemon $pid ignored SIGTERM for 10 s: sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
  fi
  # Only remove what this script created.
  if [ -f "$dir/.start_js_ipfs" ]; then rm -rf "$dir"; fi
  log "stopped"
}

# Whether the API answers `POST /api/v0/version` (curl if present, else Node's fetch).
api_ready() {
  if command -v curl >/dev/null; then
    curl -sf -X POST --max-time 2 "$1/api/v0/version" >/dev/null 2>&1
  else
    node -e 'fetch(process.argv[1] + "/api/v0/version", { method: "POST", signal: AbortSignal.timeout(2000) })
      .then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));' "$1" 2>/dev/null
  fi
}

# Whether process $1 runs (a zombie, dead but not yet reaped, does not).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  [ -r "/proc/$1/stat" ] || return 0
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [ "${stat%% *}" != Z ]
}

free_port() {
  node -e 'const s = require("net").createServer();
    s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

start() {
  if [ "${1:-}" = "--install" ] || [ ! -x "$jsipfs" ]; then
    [ "${1:-}" = "--install" ] || die "js-ipfs is not installed: run (cd $pkg && npm ci) or pass --install"
    log "installing js-ipfs with npm ci (about a minute with a warm cache)"
    (cd "$pkg" && npm ci --no-audit --no-fund --loglevel=error >&2)
  fi

  local dir="${IPFS_KIT_JS_IPFS_DIR:-}"
  if [ -z "$dir" ]; then dir="$(mktemp -d "${TMPDIR:-/tmp}/ipfs-kit-js-ipfs.XXXXXX")"; fi
  mkdir -p "$dir"
  touch "$dir/.start_js_ipfs"
  if [ -f "$dir/daemon.pid" ] && kill -0 "$(cat "$dir/daemon.pid")" 2>/dev/null; then
    die "A daemon is already running from $dir (pid $(cat "$dir/daemon.pid"))"
  fi
  rm -rf "$dir/repo" "$dir/swarm"
  local swarm=""
  if [ "${JS_IPFS_SWARM:-}" = 1 ]; then
    swarm="/ip4/127.0.0.1/tcp/0"
    touch "$dir/swarm"
  fi

  local api_port="${JS_IPFS_API_PORT:-$(free_port)}"
  local gateway_port
  gateway_port="$(free_port)"
  [ "$gateway_port" != "$api_port" ] || gateway_port="$(free_port)"

  IPFS_PATH="$dir/repo" NODE_OPTIONS="--require $polyfill" \
    "$jsipfs" init --profile test --emptyRepo >"$dir/init.log" 2>&1 ||
    die "jsipfs init failed: $(cat "$dir/init.log")"

  node - "$dir/repo/config" "$api_port" "$gateway_port" "$swarm" <<'EOF'
const fs = require("fs");
const [file, api, gateway, swarm] = process.argv.slice(2);
const config = JSON.parse(fs.readFileSync(file, "utf8"));
config.Addresses.API = `/ip4/127.0.0.1/tcp/${api}`;
config.Addresses.Gateway = `/ip4/127.0.0.1/tcp/${gateway}`;
config.Addresses.RPC = "";
config.Addresses.Swarm = swarm ? [swarm] : [];
config.Addresses.Announce = [];
config.Addresses.Delegates = [];
config.Bootstrap = [];
config.Discovery = { ...config.Discovery };
config.Discovery.MDNS = { ...config.Discovery.MDNS, Enabled: false };
config.Discovery.webRTCStar = { ...config.Discovery.webRTCStar, Enabled: false };
fs.writeFileSync(file, JSON.stringify(config, null, 2));
EOF

  launch "$dir" "http://127.0.0.1:$api_port" stop
}

# Starts the daemon on the repository in $1/repo (initialised and configured),
# waits until it answers at $2, and prints the `export` lines. When it does
# not answer in time: kills it, and with $3 = stop also removes the state dir.
launch() {
  local dir="$1" url="$2" on_timeout="${3:-}"
  export IPFS_PATH="$dir/repo"
  export NODE_OPTIONS="--require $polyfill"
  if [ -f "$dir/swarm" ]; then NODE_OPTIONS="$NODE_OPTIONS --import $hook"; fi
  # setsid: the daemon gets its own process group and outlives this script.
  setsid "$jsipfs" daemon --enable-preload=false >"$dir/daemon.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$dir/daemon.pid"

  local timeout="${JS_IPFS_START_TIMEOUT:-60}"
  local deadline=$((SECONDS + timeout))
  until api_ready "$url"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "daemon exited during startup; its log:"
      cat "$dir/daemon.log" >&2
      rm -f "$dir/daemon.pid"
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "daemon did not answer on $url within ${timeout} s; its log:"
      cat "$dir/daemon.log" >&2
      if [ "$on_timeout" = stop ]; then
        stop "$dir"
      else
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$dir/daemon.pid"
      fi
      exit 1
    fi
    sleep 0.2
  done
  echo "$url" >"$dir/api_url"
  log "js-ipfs daemon (pid $pid) ready at $url; state in $dir"
  echo "export IPFS_KIT_KUBO_API=$url"
  echo "export IPFS_KIT_JS_IPFS_DIR=$dir"
}

restart() {
  local dir="${1:-${IPFS_KIT_JS_IPFS_DIR:-}}"
  [ -n "$dir" ] || die "Cannot restart: no state dir given and IPFS_KIT_JS_IPFS_DIR is unset"
  [ -x "$jsipfs" ] || die "Cannot restart: js-ipfs is not installed: run (cd $pkg && npm ci)"
  [ -f "$dir/.start_js_ipfs" ] && [ -f "$dir/repo/config" ] && [ -f "$dir/api_url" ] ||
    die "Cannot restart: $dir holds no repository started by this script"
  if [ -f "$dir/daemon.pid" ]; then
    local pid
    pid="$(cat "$dir/daemon.pid")"
    if alive "$pid"; then
      die "Cannot restart: the daemon of $dir is running (pid $pid)"
    fi
  fi
  # The daemon is gone: a lock it left (killed with SIGKILL) is stale.
  rm -rf "$dir/repo/repo.lock"
  launch "$dir" "$(cat "$dir/api_url")"
}

case "${1:-}" in
  stop) stop "${2:-}" ;;
  restart) restart "${2:-}" ;;
  "" | --install) start "${1:-}" ;;
  *) die "Usage: $0 [--install] | stop [DIR] | restart [DIR]" ;;
esac
