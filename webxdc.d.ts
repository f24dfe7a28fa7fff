// Types of `piazza-rtc/webxdc` (webxdc.js, lib/webxdc.js): the realtime part of webxdc's
// `window.webxdc`. The shapes are those of `@webxdc/types` (RealtimeListener, Webxdc's
// selfAddr / selfName / joinRealtimeChannel), declared here so nothing depends on it.
import type { RTM } from './index'
import type { CreateWebxdcOptions, PiazzaWebxdc, WebxdcRealtimeChannel as WebxdcRealtimeChannelShape } from './webxdc-api'

// The shapes (RealtimeListener, WebxdcRealtimeChannel, CreateWebxdcOptions, PiazzaWebxdc) are
// webxdc-api.d.ts's, shared with the browser client.
export type { RealtimeListener, CreateWebxdcOptions, PiazzaWebxdc } from './webxdc-api'

/** The channel `joinRealtimeChannel()` returns (its members: webxdc-api.d.ts). */
export declare class WebxdcRealtimeChannel { private constructor() }
export interface WebxdcRealtimeChannel extends WebxdcRealtimeChannelShape {}

/** Largest datagram `send` takes, in bytes (128000). */
export declare const MAX_REALTIME_BYTES: number

/**
 * The realtime `window.webxdc` of one app instance: peers calling createWebxdc with the same
 * `scope` (on the same server and app id) share its realtime channel. `rtm` must be logged in
 * when `joinRealtimeChannel()` is called.
 */
export declare function createWebxdc(rtm: RTM, scope: string, options?: CreateWebxdcOptions): PiazzaWebxdc
