// Types of `piazza-rtc/webxdc` (webxdc.js, lib/webxdc.js): the realtime part of webxdc's
// `window.webxdc`. The shapes are those of `@webxdc/types` (RealtimeListener, Webxdc's
// selfAddr / selfName / joinRealtimeChannel), declared here so nothing depends on it.
import type { RTM } from './index'
import type { CreateWebxdcOptions, PiazzaWebxdc } from './webxdc-api'

// The shapes (RealtimeListener, WebxdcRealtimeChannel, CreateWebxdcOptions, PiazzaWebxdc) are
// webxdc-api.d.ts's, shared with the browser client.
export { WebxdcRealtimeChannel } from './webxdc-api'
export type { RealtimeListener, CreateWebxdcOptions, PiazzaWebxdc } from './webxdc-api'

/** Largest datagram `send` takes, in bytes (128000). */
export declare const MAX_REALTIME_BYTES: number

/**
 * The realtime `window.webxdc` of one app instance: peers calling createWebxdc with the same
 * `scope` (on the same server and app id) share its realtime channel. `rtm` must be logged in
 * when `joinRealtimeChannel()` is called.
 */
export declare function createWebxdc(rtm: RTM, scope: string, options?: CreateWebxdcOptions): PiazzaWebxdc
