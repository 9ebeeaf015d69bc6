// One signaling session over a WebSocket, for the server's side and the Deno
// client's: forwards the local description and ICE candidates, applies the
// remote ones (candidates wait, bounded, until the remote description is
// set), refuses messages out of turn, answers stats requests (the server),
// and ties the socket's life to the connection's: when either ends, so does
// the other. Runs as a task of the connection.

import { EndOfStream, isCancellationError } from "../runtime/errors.ts";
import { taskGroup } from "../runtime/task_group.ts";
import { moveOnAfter } from "../runtime/timeouts.ts";
import { SignalingError } from "./errors.ts";
import { connectionInternals, type WebRtcConnection } from "./connection.ts";
import type { LocalSignal, Peer } from "./_peer.ts";
import {
  BadSignal,
  type ClientSignal,
  parseClientSignal,
  parseServerSignal,
  type ServerSignal,
} from "./_signaling_messages.ts";
import { WEBSOCKET_CLOSE_CODES } from "../http/websocket.ts";
import type { SignalingSocket } from "./_signaling_socket.ts";

/** How one side runs the session. */
export interface SessionSide {
  /** The server answers stats requests; the client reads the server's errors. */
  isServer: boolean;
  /** Whether this side makes the offer. */
  offerer: boolean;
  /** Remote candidates that may wait for the remote description. */
  maxQueuedCandidates: number;
  /** Messages refused before the socket is closed. */
  maxBadMessages: number;
  /** How long until the connection must be connected, in ms. */
  negotiationTimeoutMs: number;
  /** What the server sends for a stats request. */
  stats?: () => unknown;
  /** Told of the other side's error message (the client), or of a breach (the server). */
  onError?: (error: SignalingError) => void;
}

/** Runs the session until the connection or the socket ends; then closes the socket. */
export async function runSignalingSession(
  ws: SignalingSocket,
  peer: Peer,
  connection: WebRtcConnection,
  side: SessionSide,
): Promise<void> {
  const end = (reason: string) => connectionInternals.end(connection, reason);
  const queued: { candidate: string; sdpMid: string }[] = [];
  // The offerer's own candidates wait for the answer: with them, the other
  // end can reach this one and start DTLS before the answer (and the
  // fingerprint it carries) arrived here, and libdatachannel then fails the
  // handshake now and then (seen with Chromium answering: ICE connected, the
  // connection failed, 3 times in 16).
  const held: LocalSignal[] = [];
  let offered = false;
  let bad = 0;

  const fail = (code: string, message: string, fatal: boolean) => {
    const error = new SignalingError(message, code);
    side.onError?.(error);
    if (side.isServer) ws.send({ type: "error", code, message });
    if (fatal) end(`signaling failed: ${code}: ${message}`);
  };

  /** A message refused: answered with an error; past `maxBadMessages`, the end. */
  const refuse = (code: string, message: string) =>
    fail(code, message, ++bad > side.maxBadMessages);

  const applyRemote = (type: "offer" | "answer", sdp: string) => {
    peer.setRemoteDescription(type, sdp);
    for (const entry of queued.splice(0)) addCandidate(entry.candidate, entry.sdpMid);
    for (const signal of held.splice(0)) ws.send(signal);
  };

  const addCandidate = (candidate: string, sdpMid: string) => {
    try {
      peer.addRemoteCandidate(candidate, sdpMid);
    } catch (error) {
      const failure = error as SignalingError;
      refuse(failure.code ?? "bad_candidate", failure.message);
    }
  };

  const handle = (signal: ClientSignal | ServerSignal) => {
    switch (signal.type) {
      case "offer":
        if (side.offerer || peer.hasRemoteDescription) {
          refuse("out_of_order", "Cannot take offer: this side makes the offer, or took one");
        } else {
          applyRemote("offer", signal.sdp);
          connectionInternals.tookOffer(connection);
        }
        return;
      case "answer":
        if (!side.offerer || !offered || peer.hasRemoteDescription) {
          refuse("out_of_order", "Cannot take answer: no offer of this side waits for one");
        } else applyRemote("answer", signal.sdp);
        return;
      case "candidate":
        if (signal.candidate === "") return; // end of candidates
        if (peer.hasRemoteDescription) addCandidate(signal.candidate, signal.sdpMid);
        else if (queued.length >= side.maxQueuedCandidates) {
          fail(
            "too_many_candidates",
            `Cannot take candidate: ${side.maxQueuedCandidates} wait for the remote description already`,
            true,
          );
        } else queued.push({ candidate: signal.candidate, sdpMid: signal.sdpMid });
        return;
      case "stats_request":
        ws.send({ type: "stats", id: signal.id, stats: side.stats?.() ?? null });
        return;
      case "close":
        end(`the peer closed the connection${signal.reason ? `: ${signal.reason}` : ""}`);
        return;
      case "error":
        fail(signal.code, `The server refused: ${signal.message}`, true);
        return;
      case "welcome":
        refuse("out_of_order", "Cannot take welcome: it came twice");
        return;
      case "stats":
        return; // the Deno client asks for none
    }
  };

  try {
    await taskGroup(async (tg) => {
      tg.spawn(async () => {
        for await (const signal of peer.localSignals) {
          if (signal.type === "offer") offered = true;
          if (signal.type === "candidate" && side.offerer && !peer.hasRemoteDescription) {
            held.push(signal);
          } else ws.send(signal);
        }
      }, { name: "webrtc signaling out" });
      tg.spawn(async () => {
        for (;;) {
          let data: unknown;
          try {
            data = await ws.receive();
          } catch (error) {
            if (!(error instanceof EndOfStream)) throw error;
            if (ws.violation) fail(ws.violation.code, ws.violation.message, true);
            end("the signaling socket closed");
            return;
          }
          try {
            handle(side.isServer ? parseClientSignal(data) : parseServerSignal(data));
          } catch (error) {
            if (error instanceof SignalingError) fail(error.code, error.message, true);
            else if (error instanceof BadSignal) refuse(error.code, error.message);
            else throw error;
          }
        }
      }, { name: "webrtc signaling in" });
      tg.spawn(async () => {
        await moveOnAfter(
          side.negotiationTimeoutMs,
          () => connectionInternals.waitConnected(connection).catch(() => {}),
        );
        if (!connection.connected && !connection.closed) {
          fail(
            "timeout",
            `Cannot connect: not connected within ${side.negotiationTimeoutMs} ms`,
            true,
          );
        }
      }, { name: "webrtc negotiation timeout" });
      await connectionInternals.waitEnded(connection);
      tg.cancelScope.cancel();
    });
  } catch (error) {
    if (!isCancellationError(error)) end(`signaling failed: ${(error as Error).message}`);
    throw error;
  } finally {
    if (side.isServer && !ws.isClosed) ws.send({ type: "close", reason: connection.closeReason });
    const code = ws.violation
      ? (ws.closeCode ?? WEBSOCKET_CLOSE_CODES.policyViolation)
      : connection.closeReason.startsWith("signaling failed")
      ? WEBSOCKET_CLOSE_CODES.policyViolation
      : WEBSOCKET_CLOSE_CODES.normal;
    await ws.close(code, connection.closeReason);
  }
}
