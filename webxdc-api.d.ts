// The webxdc shapes of Piazza's realtime channels (`@webxdc/types`' RealtimeListener, Webxdc's
// selfAddr / selfName / joinRealtimeChannel), shared by `piazza-rtc/webxdc` (webxdc.d.ts, over
// the Node RTM client) and the browser client (`createWebxdc` of piazza-rtc/web).
import type { RTMError } from './common'

/** webxdc's `RealtimeListener`: what `joinRealtimeChannel()` returns. */
export interface RealtimeListener {
  /** Sets the receiver of the peers' data; a second call replaces the previous listener. */
  setListener(listener: (data: Uint8Array) => void): void
  /** Sends at most 128000 bytes to the peers connected now (best effort); more throws. */
  send(data: Uint8Array): void
  /** Leaves; the channel throws on any later use, and `joinRealtimeChannel()` works again. */
  leave(): void
}

/** The channel Piazza returns: a RealtimeListener that also tells why its join was refused. */
export interface WebxdcRealtimeChannel extends RealtimeListener {
  /**
   * The RTMError that refused the join (no privilege for the scope, not logged in…), or null.
   * Once set, send and setListener throw it; leave() is allowed once.
   */
  readonly error: RTMError | null
  setListener(listener: ((data: Uint8Array) => void) | null): void
  send(data: Uint8Array): void
  leave(): void
}

export interface CreateWebxdcOptions {
  /** `webxdc.selfName` (default: the RTM user id). */
  selfName?: string
  /**
   * Called when a join is refused (also set as `channel.error`). Without it, a
   * `PiazzaRealtimeError` process warning tells.
   */
  onError?: (err: RTMError, channel: WebxdcRealtimeChannel) => void
}

/**
 * `window.webxdc` as far as realtime goes. The other members of `@webxdc/types`' Webxdc are not
 * supported: `sendUpdate` throws, the promise-returning ones reject (RTMError,
 * RTM_ERROR_SERVICE_NOT_SUPPORTED); `sendUpdateInterval` and `sendUpdateMaxSize` are absent.
 */
export interface PiazzaWebxdc {
  /** The RTM user id. */
  readonly selfAddr: string
  /** `options.selfName`, else the RTM user id. */
  readonly selfName: string
  /**
   * Joins the app's realtime channel (the scope given to createWebxdc).
   * @throws when the previous channel was not left. A refused join does not throw: see
   * `CreateWebxdcOptions.onError` and `WebxdcRealtimeChannel.error`.
   */
  joinRealtimeChannel(): WebxdcRealtimeChannel
  /** Not supported: throws. */
  sendUpdate(update: unknown, description?: string): never
  /** Not supported: rejects. */
  setUpdateListener(cb: (update: unknown) => void, serial?: number): Promise<never>
  /** Not supported: rejects. */
  getAllUpdates(): Promise<never>
  /** Not supported: rejects. */
  sendToChat(message: unknown): Promise<never>
  /** Not supported: rejects. */
  importFiles(filter: unknown): Promise<never>
}
