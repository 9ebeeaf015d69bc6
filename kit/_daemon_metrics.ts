/**
 * The daemon's `/metrics`: its HTTP requests counted by listener, route and
 * status with a latency histogram per listener and route, its listeners'
 * connection counters, the tiered cache's tiers, and the text of the other
 * floors (the runtime per scheduling strategy, the WAL's telemetry) and of
 * the extensions. Every label value comes from a fixed set: routes are
 * named by the daemon, never taken from a request, and a status is a
 * number from 100 to 599.
 *
 * @module
 */

import type { HttpServerStats } from "../http/server.ts";
import type { TieredCacheStatistics } from "../cache/tiered_cache_statistics.ts";

/** Upper bounds of the latency histogram, in seconds. */
export const LATENCY_BUCKETS: readonly number[] = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/** The most routes one listener counts apart; later ones count as `other`. */
const MAX_ROUTES = 256;

interface RouteCounters {
  /** Requests by status. */
  statuses: Map<number, number>;
  /** Counts per bucket (not cumulative), the last one `+Inf`. */
  buckets: number[];
  sum: number;
  count: number;
}

/** Requests and latencies by listener and route. */
export class HttpMetrics {
  readonly #listeners = new Map<string, Map<string, RouteCounters>>();

  /**
   * Counts one answered request.
   *
   * @param listener `api` or `gateway`.
   * @param route A route name the daemon chose.
   * @param status The answer's status.
   * @param seconds How long until the handler answered (its head).
   */
  observe(listener: string, route: string, status: number, seconds: number): void {
    let routes = this.#listeners.get(listener);
    if (routes === undefined) this.#listeners.set(listener, routes = new Map());
    let counters = routes.get(route);
    if (counters === undefined) {
      if (routes.size >= MAX_ROUTES) return this.observe(listener, "other", status, seconds);
      counters = {
        statuses: new Map(),
        buckets: new Array(LATENCY_BUCKETS.length + 1).fill(0),
        sum: 0,
        count: 0,
      };
      routes.set(route, counters);
    }
    const code = Number.isInteger(status) && status >= 100 && status <= 599 ? status : 0;
    counters.statuses.set(code, (counters.statuses.get(code) ?? 0) + 1);
    let bucket = LATENCY_BUCKETS.findIndex((le) => seconds <= le);
    if (bucket === -1) bucket = LATENCY_BUCKETS.length;
    counters.buckets[bucket]++;
    counters.sum += seconds;
    counters.count++;
  }

  /** The requests' families in Prometheus text. */
  text(): string {
    const lines: string[] = [];
    const requests = "ipfs_kit_http_requests_total";
    lines.push(
      `# HELP ${requests} HTTP requests answered, by listener, route and status.`,
      `# TYPE ${requests} counter`,
    );
    for (const [listener, routes] of sorted(this.#listeners)) {
      for (const [route, counters] of sorted(routes)) {
        for (const [status, count] of [...counters.statuses].sort(([a], [b]) => a - b)) {
          lines.push(
            `${requests}{listener="${listener}",route="${route}",status="${status}"} ${count}`,
          );
        }
      }
    }
    const duration = "ipfs_kit_http_request_duration_seconds";
    lines.push(
      `# HELP ${duration} Time until the handler answered (the head), by listener and route.`,
      `# TYPE ${duration} histogram`,
    );
    for (const [listener, routes] of sorted(this.#listeners)) {
      for (const [route, counters] of sorted(routes)) {
        const labels = `listener="${listener}",route="${route}"`;
        let cumulative = 0;
        for (const [i, le] of [...LATENCY_BUCKETS, Infinity].entries()) {
          cumulative += counters.buckets[i];
          const bound = le === Infinity ? "+Inf" : String(le);
          lines.push(`${duration}_bucket{${labels},le="${bound}"} ${cumulative}`);
        }
        lines.push(`${duration}_sum{${labels}} ${counters.sum}`);
        lines.push(`${duration}_count{${labels}} ${counters.count}`);
      }
    }
    return lines.join("\n") + "\n";
  }
}

function sorted<V>(map: Map<string, V>): [string, V][] {
  return [...map].sort(([a], [b]) => a.localeCompare(b));
}

/** The listeners' connection counters in Prometheus text. */
export function listenerText(listeners: Record<string, HttpServerStats>): string {
  const lines: string[] = [];
  const family = (
    name: string,
    type: "counter" | "gauge",
    help: string,
    value: (stats: HttpServerStats) => number,
  ) => {
    lines.push(`# HELP ipfs_kit_http_${name} ${help}`, `# TYPE ipfs_kit_http_${name} ${type}`);
    for (const [listener, stats] of Object.entries(listeners)) {
      lines.push(`ipfs_kit_http_${name}{listener="${listener}"} ${value(stats)}`);
    }
  };
  family("connections_accepted_total", "counter", "Connections accepted.", (s) => s.accepted);
  family(
    "connections_refused_total",
    "counter",
    "Connections closed at once: the connection cap was reached.",
    (s) => s.refused,
  );
  family(
    "connections_timed_out_total",
    "counter",
    "Connections closed by a deadline (request head, idle, stalled read or write).",
    (s) => s.timedOut,
  );
  family("connections_open", "gauge", "Connections open now, WebSockets included.", (s) => s.open);
  return lines.join("\n") + "\n";
}

/** The tiered cache's statistics in Prometheus text (nothing without a cache). */
export function cacheText(stats: TieredCacheStatistics | undefined): string {
  if (stats === undefined) return "";
  const lines: string[] = [];
  const family = (name: string, type: "counter" | "gauge", help: string) =>
    lines.push(`# HELP ipfs_kit_cache_${name} ${help}`, `# TYPE ipfs_kit_cache_${name} ${type}`);
  const sample = (name: string, labels: string, value: number) =>
    lines.push(`ipfs_kit_cache_${name}${labels === "" ? "" : `{${labels}}`} ${value}`);
  family("reads_total", "counter", "Reads (cat, getBlock) by where they were served from.");
  sample("reads_total", `source="memory"`, stats.fromMemory);
  sample("reads_total", `source="disk"`, stats.fromDisk);
  sample("reads_total", `source="backend"`, stats.fromBackend);
  sample("reads_total", `source="joined"`, stats.joined);
  family("hit_ratio", "gauge", "Reads served by the memory or disk tier, of all reads.");
  sample("hit_ratio", "", stats.hitRatio);
  family("streamed_bytes_total", "counter", "Bytes of files streamed past the stream threshold.");
  sample("streamed_bytes_total", "", stats.streamedBytes);
  const tiers: [
    string,
    {
      hits: number;
      misses: number;
      entries: number;
      bytes: number;
      maxBytes: number;
      evictions: number;
    },
  ][] = [
    ["memory", stats.memory],
  ];
  if (stats.disk !== undefined) tiers.push(["disk", stats.disk]);
  const perTier = (
    name: string,
    type: "counter" | "gauge",
    help: string,
    value: (tier: (typeof tiers)[number][1]) => number,
  ) => {
    family(name, type, help);
    for (const [tier, values] of tiers) sample(name, `tier="${tier}"`, value(values));
  };
  perTier("tier_hits_total", "counter", "Lookups the tier answered.", (t) => t.hits);
  perTier("tier_misses_total", "counter", "Lookups the tier did not answer.", (t) => t.misses);
  perTier("tier_entries", "gauge", "Entries held.", (t) => t.entries);
  perTier("tier_bytes", "gauge", "Bytes held.", (t) => t.bytes);
  perTier("tier_max_bytes", "gauge", "The tier's capacity in bytes.", (t) => t.maxBytes);
  perTier("tier_evictions_total", "counter", "Entries evicted.", (t) => t.evictions);
  family("backend_reads_total", "counter", "Reads that went to the backend.");
  sample("backend_reads_total", "", stats.backend.reads);
  family("backend_read_bytes_total", "counter", "Bytes read from the backend.");
  sample("backend_read_bytes_total", "", stats.backend.bytesRead);
  if (stats.prefetch !== undefined) {
    family("prefetch_loads_total", "counter", "Prefetch loads by outcome.");
    sample("prefetch_loads_total", `outcome="completed"`, stats.prefetch.completed);
    sample("prefetch_loads_total", `outcome="failed"`, stats.prefetch.failed);
    sample("prefetch_loads_total", `outcome="used"`, stats.prefetch.used);
  }
  return lines.join("\n") + "\n";
}
