// What a webxdc app of this sample may use: webxdc's `window.webxdc`, realtime API only (the
// shapes of @webxdc/types' Webxdc / RealtimeListener). Provided by webxdc-preload.js
// (Electron) or renderer/webxdc-web-bridge.js (web mode).

interface WebxdcRealtimeListener {
  /** Receives the peers' data; a second call replaces the previous listener. */
  setListener(listener: (data: Uint8Array) => void): void
  /** At most 128000 bytes, to the peers connected now (best effort). */
  send(data: Uint8Array): void
  /** The channel is invalid afterwards; joinRealtimeChannel() works again. */
  leave(): void
}

interface WebxdcRealtime {
  readonly selfAddr: string
  readonly selfName: string
  /** Throws when called again without leave(). */
  joinRealtimeChannel(): WebxdcRealtimeListener
}

interface Window {
  webxdc: WebxdcRealtime
}
