// Where the daemon's WebRTC extension answers signaling, in a module of its
// own: the page's bundle takes it from here, without the server's code.

/** The signaling route on the daemon's API port (a WebSocket upgrade). */
export const SIGNALING_PATH = "/api/v0/webrtc/signaling";
