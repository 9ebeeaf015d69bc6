/**
 * The network: the embedded node as a peer of the IPFS network (libp2p,
 * bitswap, the DHT, gossipsub, IPNS) and authenticated peer discovery over
 * WebSocket.
 *
 * Nothing here starts on its own: a node is offline until it is given a
 * network, so one-shot commands never open a socket.
 *
 * @module
 */

export * from "./libp2p_network.ts";
export * from "./errors.ts";
export * from "./peer_info.ts";
export * from "./discovery_server.ts";
export * from "./discovery_client.ts";
