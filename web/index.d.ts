// Types of piazza-rtc/web, the browser client (web/src, built into web/dist/piazza-web.mjs).
// Everything but the two classes is the Node package's own declarations (common.d.ts,
// storage.d.ts, webxdc-api.d.ts): the same options, responses, events, errors and methods. RTM
// and TRTCCloud are declared here over a browser EventEmitter with Node's method names instead
// of Node's `events` module, so a web project needs no @types/node.

import type { RTMConfig, RTMEventArgs, RTMClientApi, TRTCEventArgs, TRTCInitConfig, TRTCCloudApi } from '../common'
import type { CreateWebxdcOptions, PiazzaWebxdc } from '../webxdc-api'

export * from '../common'
export type { RealtimeListener, CreateWebxdcOptions, PiazzaWebxdc, WebxdcRealtimeChannel } from '../webxdc-api'

type Listener<A extends unknown[]> = (...args: A) => void

/** Node's EventEmitter API (on, off, once, emit…) for the browser; a listener that throws is reported (reportError) and the others still run. */
export declare class PiazzaEmitter<Events extends { [E in keyof Events]: unknown[] }> {
  on<E extends keyof Events>(event: E, listener: Listener<Events[E]>): this
  addListener<E extends keyof Events>(event: E, listener: Listener<Events[E]>): this
  prependListener<E extends keyof Events>(event: E, listener: Listener<Events[E]>): this
  once<E extends keyof Events>(event: E, listener: Listener<Events[E]>): this
  off<E extends keyof Events>(event: E, listener: Listener<Events[E]>): this
  removeListener<E extends keyof Events>(event: E, listener: Listener<Events[E]>): this
  removeAllListeners(event?: keyof Events): this
  listenerCount(event: keyof Events): number
  listeners<E extends keyof Events>(event: E): Array<Listener<Events[E]>>
  eventNames(): Array<keyof Events>
  emit<E extends keyof Events>(event: E, ...args: Events[E]): boolean
}

/**
 * The RTM 2 client in a browser: the Node package's RTM (RTMClientApi) over the page's
 * WebSocket. Of RTMConfig, `caCertificates`, `tls`, `logLevel` and `logFormat` do not apply
 * (the browser verifies wss:// certificates; logs go to the console); end-to-end encryption
 * uses WebCrypto and needs a secure context (https:// or localhost).
 */
export declare class RTM extends PiazzaEmitter<RTMEventArgs> {
  /** Throws RTMError on bad ids or out-of-range config values. */
  constructor(appId: string, userId: string, rtmConfig?: RTMConfig)
  /** Exceptions thrown by listeners so far (each was reported with reportError). */
  static readonly listenerErrorCount: number
}
export interface RTM extends RTMClientApi {}
/** Alias of RTM. */
export declare const RTMClient: typeof RTM
export type RTMClient = RTM

/** TRTC rooms in a browser: the Node package's TRTCCloud (TRTCCloudApi); callbacks come asynchronously. */
export declare class TRTCCloud extends PiazzaEmitter<TRTCEventArgs> {
  /** Throws RTMError on a bad presenceTimeout or endpoint. */
  constructor(options?: TRTCInitConfig)
  static getTRTCShareInstance(config?: TRTCInitConfig): TRTCCloud
  static destroyTRTCShareInstance(): void
}
export interface TRTCCloud extends TRTCCloudApi {}

/** Largest realtime datagram, in bytes (128000). */
export declare const MAX_REALTIME_BYTES: number
/** The realtime `window.webxdc` of one app instance over a logged-in RTM client of this module. */
export declare function createWebxdc(rtm: RTM, scope: string, options?: CreateWebxdcOptions): PiazzaWebxdc
