/**
 * The daemons the Kubo-backend suites run against: the Kubo-compatible
 * daemon at `IPFS_KIT_KUBO_API` (js-ipfs in CI, standing in for Kubo), and
 * the kit's own daemon, a real `kit daemon` process started on free ports
 * (`_daemon_process.ts`) and reached through its repository's `api` file,
 * always available. Each suite registers its tests once per target, the
 * target's label in every test name.
 *
 * @module
 */

import { probeKubo, requireService } from "./_services.ts";
import { agentVersion } from "./_kubo_daemon.ts";
import { type DaemonProcess, startDaemonProcess } from "./_daemon_process.ts";

/** One daemon a suite runs against. */
export interface KuboTarget {
  /** For test names: `js-ipfs`, `kubo` or `ipfs-kit daemon`. */
  label: string;
  /** What it is. */
  kind: "js-ipfs" | "kubo" | "kit";
  /** The API's base URL; `""` when not available. */
  url: string;
  /** Pass as the tests' `ignore`: the daemon is not available. */
  ignore: boolean;
  /** Its `AgentVersion`. */
  agent: string;
}

let kitDaemon: Promise<DaemonProcess> | undefined;

/** The kit's daemon for this test process: started once, killed when the process exits. */
export function sharedKitDaemon(): Promise<DaemonProcess> {
  kitDaemon ??= startDaemonProcess();
  return kitDaemon;
}

/**
 * The targets: the daemon at `IPFS_KIT_KUBO_API` (ignored when it is not
 * there), then the kit's daemon.
 */
export async function kuboTargets(): Promise<KuboTarget[]> {
  const daemon = await requireService("kubo", probeKubo);
  const agent = daemon.ignore ? "" : await agentVersion(daemon.url);
  const isJsIpfs = agent.startsWith("js-ipfs");
  const kit = await sharedKitDaemon();
  return [
    {
      label: isJsIpfs ? "js-ipfs" : "kubo",
      kind: isJsIpfs ? "js-ipfs" : "kubo",
      url: daemon.url,
      ignore: daemon.ignore,
      agent,
    },
    {
      label: "ipfs-kit daemon",
      kind: "kit",
      url: kit.url,
      ignore: false,
      agent: await agentVersion(kit.url),
    },
  ];
}
