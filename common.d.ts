// Public types of Piazza shared by the Node package (index.d.ts, which re-exports all of this)
// and the browser client (piazza-rtc/web, web/index.d.ts): everything that does not depend on
// the platform — errors, constants, options, responses, events, and the methods of RTM and
// TRTCCloud (RTMClientApi, TRTCCloudApi), whose classes each entry declares over its own
// EventEmitter. Shapes follow agora-rtm-sdk 2.x (RTM), trtc-electron-sdk (TRTCCloud).

import type { RTMStorage, RTMLock, RTMHistory } from './storage'

// Storage (channel and user metadata), locks and history: declared in storage.d.ts.
export * from './storage'

// ---------------------------------------------------------------------------------------------
// Errors

/** The numeric RTM error codes by name (`ErrorCode.RTM_ERROR_NOT_LOGIN === -10002`). */
export declare const ErrorCode: Readonly<Record<ErrorCodeName, number>>
export type ErrorCodeName = `RTM_ERROR_${string}`
/** The TRTC codes of onEnterRoom(result < 0) / onError (`TRTCErrorCode.ERR_ROOM_ID_INVALID === -3318`). */
export declare const TRTCErrorCode: Readonly<Record<TRTCErrorCodeName, number>>
export type TRTCErrorCodeName = `ERR_${string}`

/** One row of the error table. */
export interface ErrorTableRow {
  code: number
  name: ErrorCodeName | TRTCErrorCodeName
  description: string
}

/** The RTM `ErrorInfo` shape. */
export interface ErrorInfo {
  error: boolean
  reason: string
  operation: string
  errorCode: number
}

/** Every rejection and constructor error is an RTMError (an `Error` with the ErrorInfo fields). */
export declare class RTMError extends Error implements ErrorInfo {
  readonly name: 'RTMError'
  error: true
  operation: string
  errorCode: number
  /** Same as `errorCode` (as RTMBaseError has it). */
  code: number
  reason: string
}

// ---------------------------------------------------------------------------------------------
// Constants

export type ChannelType = 'MESSAGE' | 'STREAM' | 'USER'
export declare const ChannelType: Readonly<{ MESSAGE: 'MESSAGE'; STREAM: 'STREAM'; USER: 'USER' }>
export type MessageType = 'STRING' | 'BINARY'
export declare const MessageType: Readonly<{ STRING: 'STRING'; BINARY: 'BINARY' }>
export type LinkState = 'IDLE' | 'CONNECTING' | 'CONNECTED' | 'DISCONNECTED' | 'SUSPENDED' | 'FAILED'
export declare const LinkState: Readonly<{ [K in LinkState]: K }>
export type PresenceEventType =
  | 'SNAPSHOT' | 'INTERVAL' | 'REMOTE_JOIN' | 'REMOTE_LEAVE' | 'REMOTE_TIMEOUT' | 'REMOTE_STATE_CHANGED' | 'ERROR_OUT_OF_SERVICE'
export declare const PresenceEventType: Readonly<{ [K in PresenceEventType]: K }>
export type TopicEventType = 'SNAPSHOT' | 'REMOTE_JOIN' | 'REMOTE_LEAVE'
export declare const TopicEventType: Readonly<{ [K in TopicEventType]: K }>

/** The engine version. */
export declare const version: string

// ---------------------------------------------------------------------------------------------
// Logging

/**
 * The log level a server or client asks for (default 'warn'). The process has one level: the
 * most verbose one asked for by an open server (until `close()`) or a logged-in client (until
 * `logout()`); with none open nothing is logged. `RUST_LOG`, when set, overrides it.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'none'
/** How records are written to stderr: text lines (default), or one JSON object per line while any open server or client asks for 'json'. */
export type LogFormat = 'text' | 'json'

/** One log record, as `setLogger`'s function receives it. Tokens and payloads never appear. */
export interface LogRecord {
  level: 'error' | 'warn' | 'info' | 'debug' | 'trace'
  /** Where it comes from, a Rust module path ('piazza_engine::server'). */
  target: string
  message: string
  /** The record's structured fields (`{ peer: '127.0.0.1:5123', user: 'alice' }`). */
  fields: Record<string, string | number | boolean>
  /** Milliseconds since the epoch. */
  timestamp: number
}



// ---------------------------------------------------------------------------------------------
// RTM client

export type EncryptionMode = 'NONE' | 'AES_128_GCM' | 'AES_256_GCM'

/** agora-rtm-sdk's private config: `accessPointHosts` applies; the SDK's other keys are ignored by name, any other key is a PIAZZA_UNKNOWN_OPTION warning. */
export interface PrivateConfig {
  /** Servers tried in turn: ws:// / wss:// URLs or plain host names ('host', 'host:port', '[::1]:port'; wss:// with `tls` or caCertificates, else ws://). */
  accessPointHosts?: string[]
  /** Ignored by name, as eventUploadHosts, logUploadHosts, originDomains and domainMode. */
  serviceType?: Array<'MESSAGE' | 'STREAM'>
  eventUploadHosts?: string[]
  logUploadHosts?: string[]
  originDomains?: string[]
  domainMode?: 1 | 2
}

export interface RTMConfig {
  /** Server URL ('ws://host:port'); default: the PIAZZA_URL environment variable. */
  endpoint?: string
  /** End-to-end payload encryption (default 'NONE'); needs cipherKey and a 32-byte salt. */
  encryptionMode?: EncryptionMode
  /** 32 bytes; the key is derived from cipherKey and salt (PBKDF2-HMAC-SHA256). */
  salt?: Uint8Array
  cipherKey?: string
  /** PEM certificates to trust for wss:// instead of the system's web PKI roots (a private CA). */
  caCertificates?: string
  /** Plain host names in privateConfig.accessPointHosts use wss:// (default: true when caCertificates is set). */
  tls?: boolean
  /** Seconds a dropped session stays present before others see REMOTE_TIMEOUT, 5–300 (default 300). */
  presenceTimeout?: number
  /** Seconds between heartbeats, 5–1800 (default 5). */
  heartbeatInterval?: number
  logLevel?: LogLevel
  logFormat?: LogFormat
  privateConfig?: PrivateConfig
  /** Milliseconds a request waits for its answer (default 10000). */
  requestTimeoutMs?: number
  /** Milliseconds `login` keeps trying to reach a server before LOGIN_TIMEOUT (default 10000). */
  loginTimeoutMs?: number
  /** Milliseconds without an answer after a heartbeat before the link counts as dead (default 5000). */
  pongTimeoutMs?: number
  /** agora-rtm-sdk option, ignored by name (no log upload). Another unknown key is a PIAZZA_UNKNOWN_OPTION warning. */
  logUpload?: boolean
  /** agora-rtm-sdk option, ignored by name (no cloud proxy). */
  cloudProxy?: boolean
  /** agora-rtm-sdk option, ignored by name (user ids are strings). */
  useStringUserId?: boolean
}

export interface BaseResponse {
  timestamp: number
}
export interface LoginResponse extends BaseResponse {}
export interface LogoutResponse extends BaseResponse {}
export interface RTMOperationResponse extends BaseResponse {
  channelName: string
}
export interface SubscribeResponse extends RTMOperationResponse {}
export interface UnsubscribeResponse extends RTMOperationResponse {}
export interface PublishResponse extends RTMOperationResponse {}

export interface StreamChannelOperationResponse extends BaseResponse {
  channelName: string
  topicName: string
}
export interface JoinChannelResponse extends RTMOperationResponse {}
export interface LeaveChannelResponse extends RTMOperationResponse {}
export interface ReleaseChannelResponse extends RTMOperationResponse {}
export interface JoinTopicResponse extends StreamChannelOperationResponse {}
export interface LeaveTopicResponse extends StreamChannelOperationResponse {}
export interface PublishTopicMessageResponse extends StreamChannelOperationResponse {}
export interface UnsubscribeTopicResponse extends StreamChannelOperationResponse {}

/** SubscribeTopicErrorCode values of RTM 2 (in `failedDetails[].errorCode`). */
export type SubscribeTopicErrorCode =
  | 0 /* NO_ERROR */ | 1 /* PARTIALLY_SUCCESSFUL */ | 2 /* ALL_FAILED */ | 3 /* UNKNOWN_ERROR */
  | 4 /* INVALID_PARAMS */ | 5 /* REMOTE_USER_IS_NOT_PUBLISHED */ | 6 /* INVALID_REMOTE_USER */ | 7 /* TIMEOUT */
  | 20001 /* ALREADY_SUBSCRIBED_USER */ | 20003 /* SUB_USER_EXCEED_LIMITATION */ | 20004 /* NOT_SUBSCRIBED_USER */
export interface SubscribedFailedReason {
  user: string
  errorCode: SubscribeTopicErrorCode
  reason: string
}
export interface SubscribeTopicResponse extends StreamChannelOperationResponse {
  succeedUsers: string[]
  failedUsers: string[]
  failedDetails: SubscribedFailedReason[]
}
export interface GetSubscribedUserListResponse extends BaseResponse {
  topicName: string
  subscribed: string[]
}

export interface JoinOptions {
  /** Stream-channel token (with auth on). */
  token?: string
  withPresence?: boolean
  beQuiet?: boolean
  withMetadata?: boolean
  withLock?: boolean
}
export interface JoinTopicOptions {
  /** Publisher meta others see in topic events (a string; other values are JSON-encoded; ≤ 256 bytes). */
  meta?: unknown
}
export interface PublishTopicMessageOptions {
  customType?: string
}
export interface SubscribeTopicOptions {
  /** Publishers to add; without it, every current publisher (up to 64). */
  users?: string[]
}
export interface UnsubscribeTopicOptions {
  /** Publishers to drop; without it, the whole topic. */
  users?: string[]
}

/** A stream channel (RTM RTMStreamChannel); create with `rtm.createStreamChannel(name)`. */
export declare class RTMStreamChannel {
  private constructor()
  readonly channelName: string
  join(options?: JoinOptions): Promise<JoinChannelResponse>
  leave(): Promise<LeaveChannelResponse>
  /** Leaves if joined; afterwards every call rejects with RTM_ERROR_INSTANCE_ALREADY_RELEASED. */
  release(): Promise<ReleaseChannelResponse>
  joinTopic(topicName: string, options?: JoinTopicOptions): Promise<JoinTopicResponse>
  leaveTopic(topicName: string): Promise<LeaveTopicResponse>
  publishTopicMessage(topicName: string, message: string | Uint8Array | ArrayBuffer, options?: PublishTopicMessageOptions): Promise<PublishTopicMessageResponse>
  subscribeTopic(topicName: string, options?: SubscribeTopicOptions): Promise<SubscribeTopicResponse>
  unsubscribeTopic(topicName: string, options?: UnsubscribeTopicOptions): Promise<UnsubscribeTopicResponse>
  /** The publishers this client subscribed to in the topic (synchronous). */
  getSubscribedUserList(topicName: string): GetSubscribedUserListResponse
}

/** A webxdc-style realtime channel; create with `rtm.joinRealtimeChannel(scope)`. */
export declare class RealtimeChannel {
  private constructor()
  readonly scope: string
  /** Sets (or replaces) the receiver of the other members' data. */
  setListener(listener: ((data: Uint8Array) => void) | null): void
  /** Sends at most 128000 bytes to the members connected now (best effort); throws otherwise. */
  send(data: Uint8Array): void
  /** Leaves; the object throws on any later use. */
  leave(): void
}

export type StateDetail = Record<string, string>
export interface OccupancyDetail {
  userId: string
  states: StateDetail
  statesCount: number
}
export interface WhoNowOptions {
  /** Include the users (default true); false gives only `totalOccupancy`. */
  includedUserId?: boolean
  /** Include each user's states (default false). */
  includedState?: boolean
  /** The `nextPage` of the previous page. */
  page?: string
}
export interface WhoNowResponse extends BaseResponse {
  totalOccupancy: number
  occupants: OccupancyDetail[]
  /** '' on the last page. */
  nextPage: string
}
export interface ChannelDetail {
  channelName: string
  channelType: 'MESSAGE' | 'STREAM'
}
export interface WhereNowResponse extends BaseResponse {
  channels: ChannelDetail[]
  totalChannel: number
}
export interface SetStateResponse extends BaseResponse {}
export interface RemoveStateResponse extends BaseResponse {}
export interface GetStateResponse extends OccupancyDetail, BaseResponse {}
export interface RemoveStateOptions {
  /** Keys to remove; absent or empty removes every state. */
  states?: string[]
}
export type PresenceChannelType = 'MESSAGE' | 'STREAM'

/** Presence queries and temporary states (`rtm.presence`). */
export declare class RTMPresence {
  private constructor()
  whoNow(channelName: string, channelType: PresenceChannelType, options?: WhoNowOptions): Promise<WhoNowResponse>
  getOnlineUsers(channelName: string, channelType: PresenceChannelType, options?: WhoNowOptions): Promise<WhoNowResponse>
  whereNow(userId: string): Promise<WhereNowResponse>
  getUserChannels(userId: string): Promise<WhereNowResponse>
  /** Merges states (≤ 32 keys of ≤ 64 bytes, values ≤ 8 KiB); before joining, they apply on join. */
  setState(channelName: string, channelType: PresenceChannelType, state: StateDetail): Promise<SetStateResponse>
  getState(userId: string, channelName: string, channelType: PresenceChannelType): Promise<GetStateResponse>
  removeState(channelName: string, channelType: PresenceChannelType, options?: RemoveStateOptions): Promise<RemoveStateResponse>
}

export interface LoginOptions {
  /** The login token (see generateToken); may be omitted on a server in open development mode. */
  token?: string
}

export interface RenewTokenOptions {
  /** A joined stream channel whose own token is renewed. */
  channelName?: string
}
export interface RenewTokenResponse extends BaseResponse {}

/** What a token grants: '*' (everything, the default) or a list. */
export type Grant<T> = '*' | T[]
export interface Privileges {
  /** Whether the token may log in (default true). */
  login?: boolean
  streamChannels?: Grant<string>
  /** TRTC rooms: numbers are roomIds, strings strRoomIds. */
  rooms?: Grant<number | string>
  /** Realtime channel scopes. */
  realtime?: Grant<string>
}
export interface GenerateTokenOptions {
  appId: string | number
  /** The app's certificate (never send it to clients). */
  appCertificate: string
  userId: string
  /** Lifetime, 1–86400 seconds. */
  expireSeconds: number
  privileges?: Privileges
}

export interface SubscribeOptions {
  withMessage?: boolean
  withPresence?: boolean
  beQuiet?: boolean
  withMetadata?: boolean
  withLock?: boolean
}

export interface PublishOptions {
  customType?: string
  channelType?: 'MESSAGE' | 'USER'
  /** Keep it for `rtm.history.getMessages` (default false). */
  storeInHistory?: boolean
}

export declare namespace RTMEvents {
  interface BaseEvent {
    timestamp: number
  }
  interface MessageEvent extends BaseEvent {
    channelType: ChannelType
    /** The channel; for USER messages, the publisher's user id (reply there). */
    channelName: string
    /** The topic of a stream-channel message, '' otherwise. */
    topicName: string
    messageType: MessageType
    customType: string
    /** A string for STRING messages, a Uint8Array for BINARY ones. */
    message: string | Uint8Array
    publisher: string
  }
  type LinkOperation =
    | 'LOGIN' | 'LOGOUT' | 'JOIN' | 'LEAVE' | 'SERVER_REJECT' | 'AUTO_RECONNECT' | 'RECONNECTED'
    | 'HEARTBEAT_TIMEOUT' | 'SERVER_TIMEOUT' | 'NETWORK_CHANGE'
  type LinkStateChangeReasonCode =
    | 'UNKNOWN' | 'LOGIN' | 'LOGIN_SUCCESS' | 'LOGIN_TIMEOUT' | 'LOGIN_NOT_AUTHORIZED' | 'LOGIN_REJECTED'
    | 'RELOGIN' | 'LOGOUT' | 'AUTO_RECONNECT' | 'RECONNECT_TIMEOUT' | 'RECONNECT_SUCCESS' | 'JOIN'
    | 'JOIN_SUCCESS' | 'JOIN_FAILED' | 'REJOIN' | 'LEAVE' | 'INVALID_TOKEN' | 'TOKEN_EXPIRED'
    | 'INCONSISTENT_APP_ID' | 'INVALID_CHANNEL_NAME' | 'INVALID_USER_ID' | 'NOT_INITIALIZED'
    | 'RTM_SERVICE_NOT_CONNECTED' | 'CHANNEL_INSTANCE_EXCEED_LIMITATION' | 'OPERATION_RATE_EXCEED_LIMITATION'
    | 'CHANNEL_IN_ERROR_STATE' | 'PRESENCE_NOT_CONNECTED' | 'SAME_UID_LOGIN' | 'KICKED_OUT_BY_SERVER'
    | 'KEEP_ALIVE_TIMEOUT' | 'CONNECTION_ERROR' | 'PRESENCE_NOT_READY' | 'NETWORK_CHANGE'
    | 'SERVICE_NOT_SUPPORTED' | 'STREAM_CHANNEL_NOT_AVAILABLE' | 'STORAGE_NOT_AVAILABLE' | 'LOCK_NOT_AVAILABLE'
    | 'LOGIN_TOO_FREQUENT'
  interface UserState {
    userId: string
    states: Record<string, string>
    statesCount: number
  }
  interface UserList {
    users: string[]
    userCount: number
  }
  interface IntervalDetail {
    join: UserList
    leave: UserList
    timeout: UserList
    userStateList: UserState[]
    totalOccupancy: number
  }
  interface PresenceEvent extends BaseEvent {
    eventType: PresenceEventType
    channelType: ChannelType
    channelName: string
    /** The user the event is about ('' for SNAPSHOT and INTERVAL). */
    publisher: string
    /** REMOTE_STATE_CHANGED: the user's states now; REMOTE_JOIN: the states it joined with. */
    stateChanged: Record<string, string>
    /**
     * INTERVAL: what changed during the interval. On a SNAPSHOT after a reconnect that could
     * not resume the session: who joined and left while the client was away.
     */
    interval: IntervalDetail | null
    snapshot: UserState[] | null
  }
  interface PublisherInfo {
    publisherUserId: string
    publisherMeta: string
  }
  interface TopicDetail {
    topicName: string
    publishers: PublisherInfo[]
    totalPublisher: number
  }
  interface TopicEvent extends BaseEvent {
    eventType: TopicEventType
    channelName: string
    publisher: string
    topicInfos: TopicDetail[]
    totalTopics: number
  }
  interface LinkStateEvent extends BaseEvent {
    currentState: LinkState
    previousState: LinkState
    serviceType: 'MESSAGE' | 'STREAM'
    operation: LinkOperation
    reason: string
    reasonCode: LinkStateChangeReasonCode
    affectedChannels: string[]
    unrestoredChannels: string[]
    /**
     * `CONNECTED` after a drop with nothing lost: the session resumed (the same server, within
     * the presence timeout), or — in cluster mode with recovery, after the node died — every
     * message channel got the messages it missed from another node (the browser client does not
     * recover across nodes yet).
     */
    isResumed: boolean
  }
  /** Deprecated connection status event (emitted alongside linkState). */
  interface StatusEvent extends BaseEvent {
    state: 'DISCONNECTED' | 'CONNECTING' | 'CONNECTED' | 'RECONNECTING' | 'FAILED'
    reason: LinkStateChangeReasonCode
  }
  interface AffectedResources {
    messageChannels: string[]
    streamChannels: string[]
  }
  /**
   * A token is about to expire (WILL_EXPIRE, 30 s ahead: call renewToken) or expired (EXPIRED:
   * the login token ends the session with TOKEN_EXPIRED; a join token ends that membership).
   */
  interface TokenEvent extends BaseEvent {
    eventType: 'WILL_EXPIRE' | 'EXPIRED'
    reason: string
    affectedResources: AffectedResources
  }
  /** A received payload that could not be decrypted (another cipherKey, salt or mode; or none). It was dropped. */
  interface DecryptionErrorEvent {
    /** ErrorCode.RTM_ERROR_CHANNEL_ENCRYPT_MESSAGE_FAILED */
    errorCode: number
    reason: string
    channelType: ChannelType | ''
    channelName: string
    topicName: string
    publisher: string
  }
  /** Channel metadata (to subscribers `withMetadata`) or user metadata (subscribeUserMetadata) after a change. */
  type StorageEvent = import('./storage').StorageEvent
  /** A lock of a channel changed (to subscribers `withLock`). */
  type LockEvent = import('./storage').LockEvent
  interface RTMClientEventMap {
    message: (event: MessageEvent) => void
    presence: (event: PresenceEvent) => void
    topic: (event: TopicEvent) => void
    storage: (event: StorageEvent) => void
    lock: (event: LockEvent) => void
    linkState: (event: LinkStateEvent) => void
    status: (event: StatusEvent) => void
    token: (event: TokenEvent) => void
    /** The channel whose token is about to expire ('' for the login token). */
    tokenPrivilegeWillExpire: (channelName: string) => void
    /** Without a listener, each report is a process warning (PiazzaDecryptionError). */
    error: (event: DecryptionErrorEvent) => void
  }
}

export type RTMEventName = keyof RTMEvents.RTMClientEventMap
/** The client's events as EventEmitter argument lists (`rtm.on('message', (event) => …)`). */
export type RTMEventArgs = { [E in RTMEventName]: Parameters<RTMEvents.RTMClientEventMap[E]> }
/** addEventListener's options (as EventTarget's): `once` removes the listener after one call, `signal` on abort. */
export interface RTMAddEventListenerOptions { once?: boolean; signal?: AbortSignal }

/**
 * The methods and properties of the RTM client, the same in Node (`RTM` of index.d.ts, an
 * EventEmitter) and in the browser (`RTM` of piazza-rtc/web, web/index.d.ts).
 */
export interface RTMClientApi {
  readonly appId: string
  readonly userId: string
  /** Presence queries and temporary states. */
  readonly presence: RTMPresence
  /** Channel and user metadata. */
  readonly storage: RTMStorage
  /** Distributed locks of channels. */
  readonly lock: RTMLock
  /** Messages published with `storeInHistory: true`. */
  readonly history: RTMHistory
  /** Adds a listener once (DOM-like); throws RTMError on an unknown event name. */
  addEventListener<E extends RTMEventName>(eventName: E, listener: RTMEvents.RTMClientEventMap[E], options?: RTMAddEventListenerOptions | boolean): void
  removeEventListener<E extends RTMEventName>(eventName: E, listener: RTMEvents.RTMClientEventMap[E]): void
  login(options?: LoginOptions): Promise<LoginResponse>
  logout(): Promise<LogoutResponse>
  /** Replaces the login token, or with `channelName` the token of a joined stream channel, without reconnecting. */
  renewToken(token: string, options?: RenewTokenOptions): Promise<RenewTokenResponse>
  subscribe(channelName: string, options?: SubscribeOptions): Promise<SubscribeResponse>
  unsubscribe(channelName: string): Promise<UnsubscribeResponse>
  publish(channelName: string, message: string | Uint8Array | ArrayBuffer, options?: PublishOptions): Promise<PublishResponse>
  /** A stream channel instance (synchronous; throws on an invalid name). */
  createStreamChannel(channelName: string): RTMStreamChannel
  /** Joins a realtime channel (synchronous; throws if the scope is already joined or when not logged in). */
  joinRealtimeChannel(scope: string): RealtimeChannel
}

// ---------------------------------------------------------------------------------------------
// TRTC rooms (trtc-electron-sdk TRTCCloud shape; also the subpath `piazza-rtc/trtc`, trtc.d.ts)

export declare const TRTCAppScene: Readonly<{
  TRTCAppSceneVideoCall: 0
  TRTCAppSceneLIVE: 1
  TRTCAppSceneAudioCall: 2
  TRTCAppSceneVoiceChatRoom: 3
}>
export type TRTCAppScene = 0 | 1 | 2 | 3
export declare const TRTCRoleType: Readonly<{ TRTCRoleAnchor: 20; TRTCRoleAudience: 21 }>
export type TRTCRoleType = 20 | 21

export interface TRTCParams {
  /** The app: its id as a positive integer. */
  sdkAppId: number
  userId: string
  /** A token for the room (see generateToken); '' without auth. */
  userSig?: string
  /** Numeric room id (1..4294967294); give this or strRoomId. With both, roomId wins (as TRTC). */
  roomId?: number
  /** String room id: 1–64 bytes of letters, digits, space and `!#$%&()+-:;<=.>?@[]^_{}|~,` (TRTC's 89 characters). */
  strRoomId?: string
  /** LIVE and VoiceChatRoom only (default anchor). */
  role?: TRTCRoleType
  /** Accepted for trtc-electron-sdk code; not used: privateMapKey, businessInfo, streamId, userDefineRecordId. */
  privateMapKey?: string | null; businessInfo?: string | null; streamId?: string | null; userDefineRecordId?: string | null
}
/** trtc-electron-sdk's TRTCParams class: `new TRTCParams()` then set the fields (SDK defaults: 0, '', anchor). */
export declare class TRTCParams {
  constructor(sdkAppId?: number, userId?: string, userSig?: string, roomId?: number, strRoomId?: string, role?: TRTCRoleType,
    privateMapKey?: string | null, businessInfo?: string | null, streamId?: string | null, userDefineRecordId?: string | null)
}
export interface TRTCSwitchRoomParams { roomId?: number; strRoomId?: string; userSig?: string; privateMapKey?: string }
/** trtc-electron-sdk's TRTCSwitchRoomParam class. */
export interface TRTCSwitchRoomParam extends TRTCSwitchRoomParams {} // eslint-disable-line @typescript-eslint/no-empty-interface
export declare class TRTCSwitchRoomParam { constructor(roomId?: number, strRoomId?: string, userSig?: string, privateMapKey?: string) }
/** Piazza's onWarning codes (docs/ERRORS.md). */
export declare const TRTCWarningCode: Readonly<{ WARNING_USER_SIG_WILL_EXPIRE: 9001 }>
/** trtc-electron-sdk's TRTCInitConfig (`networkProxy`, `isIPCMode`: accepted, without effect), with Piazza's options. */
export interface TRTCInitConfig extends TRTCCloudOptions { networkProxy?: Record<string, unknown>; isIPCMode?: boolean }

export interface TRTCCloudOptions {
  /** Server URL ('ws://host:port'); default PIAZZA_URL. */
  endpoint?: string
  /** Seconds a dropped connection may take to come back before the others hear reason 1, 5–300 (default: the server's rooms.dropTimeoutSeconds). */
  presenceTimeout?: number
  heartbeatInterval?: number
  pongTimeoutMs?: number
  logLevel?: LogLevel
  logFormat?: LogFormat
  privateConfig?: PrivateConfig
  /** PEM certificates to trust for wss:// (a private CA). */
  caCertificates?: string
}

/** onExitRoom reasons: 0 exitRoom() called, or the userSig expired (after onError(-70001)); 1 removed (kicked, replaced, connection ended); 2 room dismissed. */
export type TRTCExitReason = 0 | 1 | 2
/** onRemoteUserLeaveRoom reasons: 0 left, 1 timed out, 2 removed, 3 anchor became audience. */
export type TRTCRemoteLeaveReason = 0 | 1 | 2 | 3

export interface TRTCCallbacks {
  /** result > 0: milliseconds the entry took; < 0: a TRTC error code (also sent to onError). */
  onEnterRoom: (result: number) => void
  onExitRoom: (reason: TRTCExitReason) => void
  onRemoteUserEnterRoom: (userId: string) => void
  onRemoteUserLeaveRoom: (userId: string, reason: TRTCRemoteLeaveReason) => void
  onError: (errCode: number, errMsg: string) => void
  /** Only TRTCWarningCode.WARNING_USER_SIG_WILL_EXPIRE: call renewUserSig. */
  onWarning: (warningCode: number, warningMsg: string, extra?: unknown) => void
  onSwitchRole: (errCode: number, errMsg: string) => void
  onSwitchRoom: (errCode: number, errMsg: string) => void
  onConnectionLost: () => void
  onTryToReconnect: () => void
  onConnectionRecovery: () => void
  /** `data` arrives in the type it was sent in (string or Uint8Array). */
  onRecvCustomCmdMsg: (userId: string, cmdId: number, seq: number, data: string | Uint8Array) => void
  onMissCustomCmdMsg: (userId: string, cmdId: number, errCode: number, missed: number) => void
}
export type TRTCEventName = keyof TRTCCallbacks
/** Every callback name trtc-electron-sdk declares (lib/trtc-callbacks.js): those not in TRTCCallbacks never fire. */
export type TRTCCallbackName = TRTCEventName | 'onConnectOtherRoom' | 'onDisconnectOtherRoom' | 'onUserVideoAvailable' | 'onUserSubStreamAvailable'
  | 'onUserAudioAvailable' | 'onFirstVideoFrame' | 'onFirstAudioFrame' | 'onSendFirstLocalVideoFrame' | 'onSendFirstLocalAudioFrame' | 'onUserEnter'
  | 'onUserExit' | 'onNetworkQuality' | 'onStatistics' | 'onSpeedTest' | 'onSpeedTestResult' | 'onCameraDidReady' | 'onMicDidReady' | 'onUserVoiceVolume'
  | 'onDeviceChange' | 'onTestMicVolume' | 'onTestSpeakerVolume' | 'onAudioDeviceCaptureVolumeChanged' | 'onAudioDevicePlayoutVolumeChanged'
  | 'onRecvSEIMsg' | 'onStartPublishing' | 'onStopPublishing' | 'onStartPublishCDNStream' | 'onStopPublishCDNStream' | 'onSetMixTranscodingConfig'
  | 'onStartPublishMediaStream' | 'onUpdatePublishMediaStream' | 'onStopPublishMediaStream' | 'onCdnStreamStateChanged' | 'onAudioEffectFinished'
  | 'onScreenCaptureCovered' | 'onScreenCaptureStarted' | 'onScreenCapturePaused' | 'onScreenCaptureResumed' | 'onScreenCaptureStopped'
  | 'onSnapshotComplete' | 'onLocalRecordBegin' | 'onLocalRecording' | 'onLocalRecordComplete' | 'onSystemAudioLoopbackError'
/** The callbacks as EventEmitter argument lists: typed for those that fire. */
export type TRTCEventArgs = { [E in TRTCCallbackName]: E extends TRTCEventName ? Parameters<TRTCCallbacks[E]> : any[] }

/** The methods of TRTCCloud, the same in Node (index.d.ts) and in the browser (piazza-rtc/web). */
export interface TRTCCloudApi {
  /** Replaces the userSig of the session, staying in the room (answers onWarning(9001)); refused: onError(-3320). */
  renewUserSig(userSig: string): void
  /** Enters a room (exiting the current one first); the result comes as onEnterRoom. */
  enterRoom(params: TRTCParams, scene: TRTCAppScene): void
  /** Leaves: the others get onRemoteUserLeaveRoom(userId, 0), then you get onExitRoom(0). */
  exitRoom(): void
  switchRole(role: TRTCRoleType): void
  switchRoom(params: TRTCSwitchRoomParams): void
  /** cmdId 1–10, ≤ 1 KB, ≤ 30/s and 8 KB/s, reliable === ordered; false when refused. */
  sendCustomCmdMsg(cmdId: number, data: string | Uint8Array, reliable: boolean, ordered: boolean): boolean
  /** Exits the room if in one (announced), then releases the connection. */
  destroy(): void
}
