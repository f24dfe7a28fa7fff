// Public types of Piazza (hand-written; the native surface is binding.d.ts, generated).
// Shapes follow agora-rtm-sdk 2.x (RTM), trtc-electron-sdk (TRTCCloud) and @webxdc/types.
// The platform-neutral part (options, responses, events, constants, the methods of RTM and
// TRTCCloud) is common.d.ts, shared with the browser client (piazza-rtc/web); here are the
// Node classes over Node's EventEmitter and what only Node has (Server, tokens, logging).

/// <reference types="node" />
import { EventEmitter as NodeEventEmitter } from 'events'
import type {
  ErrorTableRow, LogRecord, GenerateTokenOptions, RTMConfig, RTMEventArgs, RTMClientApi, TRTCEventArgs, TRTCInitConfig, TRTCCloudApi,
} from './common'

export * from './common'

/** Every RTM error code with a one-line description. */
export declare function errorTable(): ErrorTableRow[]

/**
 * Sends every log record of the process to `logger` instead of stderr (an Electron app routes
 * them to its own log file); `null` restores stderr. Records are handed over in batches on the
 * JS thread and never block the engine; when the logger falls far behind (10,000 waiting),
 * newer records are dropped and counted (a 'warn' record says how many; the process gets one
 * warning). The level is still set by `logLevel`.
 */
export declare function setLogger(logger: ((record: LogRecord) => void) | null): void

/** Makes a signed token (an HS256 JWT) for a user, for an app backend. Throws RTMError on bad options. */
export declare function generateToken(options: GenerateTokenOptions): string

// ---------------------------------------------------------------------------------------------
// Server: declared in server.d.ts (Server, ServerOptions and its parts, ServerStats, admin results)

export * from './server'

// ---------------------------------------------------------------------------------------------
// RTM client

/** The RTM 2 client (agora-rtm-sdk `RTM` shape) of a Piazza server; an EventEmitter as the SDK's RTMClient is. Its methods: RTMClientApi (common.d.ts). */
export declare class RTM extends NodeEventEmitter<RTMEventArgs> {
  /** Throws RTMError on bad ids or out-of-range config values. */
  constructor(appId: string, userId: string, rtmConfig?: RTMConfig)
  /** Exceptions thrown by listeners so far (each was reported with process.emitWarning). */
  static readonly listenerErrorCount: number
}
export interface RTM extends RTMClientApi {}
/** Alias of RTM. */
export declare const RTMClient: typeof RTM
export type RTMClient = RTM

// ---------------------------------------------------------------------------------------------
// TRTC rooms (trtc-electron-sdk TRTCCloud shape; also the subpath `piazza-rtc/trtc`, trtc.d.ts)

/** TRTC rooms over Piazza: an EventEmitter, as trtc-electron-sdk's; events come asynchronously, 'error' never. Its methods: TRTCCloudApi (common.d.ts). */
export declare class TRTCCloud extends NodeEventEmitter<TRTCEventArgs> {
  /** Throws RTMError on a bad presenceTimeout or endpoint. */
  constructor(options?: TRTCInitConfig)
  /** The shared instance, made with `config` the first time (or after destroyTRTCShareInstance). */
  static getTRTCShareInstance(config?: TRTCInitConfig): TRTCCloud
  /** Destroys the shared instance (its room is exited, announced). */
  static destroyTRTCShareInstance(): void
}
export interface TRTCCloud extends TRTCCloudApi {}
