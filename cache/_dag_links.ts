/**
 * What the prefetcher learns from a dag-pb block the tiered cache reads: the
 * keys of its links and whether it is a UnixFS file or directory. Private to
 * the cache.
 *
 * @module
 */

import * as dagPb from "npm:@ipld/dag-pb@4.2.0";
import { UnixFS } from "npm:ipfs-unixfs@13.1.1";
import type { NodeKind } from "./_prefetch_model.ts";
import { blockKey } from "./_tiered_keys.ts";

/** A dag-pb node's links, as block keys, and its kind. */
export interface DagLinks {
  /** The block keys of its links, in order; none for a leaf or a malformed block. */
  links: string[];
  /** `"file"` or `"directory"` for a UnixFS node with links, else `"other"`. */
  kind: NodeKind;
}

/** Decodes a dag-pb block's links and kind; a block that does not decode has none. */
export function dagLinks(bytes: Uint8Array): DagLinks {
  let links: string[] = [];
  let kind: NodeKind = "other";
  try {
    const node = dagPb.decode(bytes);
    if (node.Links.length > 0) {
      links = node.Links.map((link) => blockKey(link.Hash));
      if (node.Data !== undefined) {
        const type = UnixFS.unmarshal(node.Data).type;
        if (type === "file" || type === "raw") kind = "file";
        else if (type === "directory" || type === "hamt-sharded-directory") kind = "directory";
      }
    }
  } catch {
    // Not a well-formed dag-pb or UnixFS node: nothing to learn.
  }
  return { links, kind };
}
