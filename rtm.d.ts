// Types of piazza-rtc/rtm (rtm.js, rtm.mjs): agora-rtm-sdk 2.x's default export (`AgoraRTM`)
// over Piazza, so SDK code compiles and runs with only its import changed. The client and
// config types are index.d.ts's; at run time only the default export exists (as in the SDK).

import { RTM, RTMError, EncryptionMode } from './index'

export type {
  RTMConfig, PrivateConfig, EncryptionMode, ErrorInfo, RTMEvents, RTMEventName, RTMEventArgs, RTMAddEventListenerOptions,
  LoginOptions, LoginResponse, LogoutResponse, SubscribeOptions, SubscribeResponse, UnsubscribeResponse, PublishOptions,
  PublishResponse, RenewTokenOptions, RenewTokenResponse, JoinOptions, JoinChannelResponse, LeaveChannelResponse,
  JoinTopicResponse, LeaveTopicResponse, PublishTopicMessageResponse, SubscribeTopicResponse, UnsubscribeTopicResponse,
  RTMStreamChannel, RTMPresence, WhoNowOptions, WhoNowResponse, WhereNowResponse,
} from './index'
/** Storage, locks and history (storage.d.ts). */
export type {
  StorageChannelType, StorageType, StorageEventType, MetadataItem, MetadataKeyItem, MetaDataDetail,
  StorageData, MetadataOptions, RemoveChannelMetadataOptions, SetOrUpdateUserMetadataOptions,
  RemoveUserMetadataOptions, GetUserMetadataOptions, ChannelMetadataOperationResponse,
  UserMetadataOperationResponse, SetChannelMetadataResponse, UpdateChannelMetadataResponse,
  RemoveChannelMetadataResponse, GetChannelMetadataResponse, SetUserMetadataResponse,
  UpdateUserMetadataResponse, RemoveUserMetadataResponse, GetUserMetadataResponse, SubscribeUserMetaResponse,
  UnsubscribeUserMetaResponse, RTMStorage, StorageEvent, LockEventType, LockDetail, SetLockOptions,
  AcquireLockOptions, LockOperationResponse, SetLockResponse, RemoveLockResponse, AcquireLockResponse,
  ReleaseLockResponse, RevokeLockResponse, GetLockResponse, RTMLock, LockEvent, HistoryChannelType,
  GetHistoryMessageOptions, HistoryMessage, GetMessagesResponse, RTMHistory,
} from './index'
/** agora-rtm-sdk's class name of the client (a type here: the value is `AgoraRTM.RTM`). */
export type { RTM as RTMClient, RTMError as RTMBaseError } from './index'

export type AreaCode = 'GLOBAL' | 'INDIA' | 'JAPAN' | 'ASIA' | 'EUROPE' | 'CHINA' | 'NORTH_AMERICA'
export type LegacyAreaCode = 'CN' | 'NA' | 'EU' | 'AS' | 'JP' | 'IN' | 'GLOB' | 'OC' | 'SA' | 'AF' | 'KR' | 'US' | 'OVS'
/** The names of agora-rtm-sdk's link state change reasons (LinkStateChangeReason4Report: 0 to 37, in this order). */
export type LinkStateChangeReasonName =
  | 'UNKNOWN' | 'LOGIN' | 'LOGIN_SUCCESS' | 'LOGIN_TIMEOUT' | 'LOGIN_NOT_AUTHORIZED' | 'LOGIN_REJECTED' | 'RELOGIN'
  | 'LOGOUT' | 'AUTO_RECONNECT' | 'RECONNECT_TIMEOUT' | 'RECONNECT_SUCCESS' | 'JOIN' | 'JOIN_SUCCESS' | 'JOIN_FAILED'
  | 'REJOIN' | 'LEAVE' | 'INVALID_TOKEN' | 'TOKEN_EXPIRED' | 'INCONSISTENT_APP_ID' | 'INVALID_CHANNEL_NAME'
  | 'INVALID_USER_ID' | 'NOT_INITIALIZED' | 'RTM_SERVICE_NOT_CONNECTED' | 'CHANNEL_INSTANCE_EXCEED_LIMITATION'
  | 'OPERATION_RATE_EXCEED_LIMITATION' | 'CHANNEL_IN_ERROR_STATE' | 'PRESENCE_NOT_CONNECTED' | 'SAME_UID_LOGIN'
  | 'KICKED_OUT_BY_SERVER' | 'KEEP_ALIVE_TIMEOUT' | 'CONNECTION_ERROR' | 'PRESENCE_NOT_READY' | 'NETWORK_CHANGE'
  | 'SERVICE_NOT_SUPPORTED' | 'STREAM_CHANNEL_NOT_AVAILABLE' | 'STORAGE_NOT_AVAILABLE' | 'LOCK_NOT_AVAILABLE'
  | 'LOGIN_TOO_FREQUENT'

/** `AgoraRTM.constantsType`: agora-rtm-sdk's constants with its values (frozen objects). */
export interface ConstantsType {
  readonly AreaCode: Readonly<{ [K in AreaCode]: K }>
  readonly ChannelTypeEnum: Readonly<{ MESSAGE: 1; STREAM: 2; USER: 3; 1: 'MESSAGE'; 2: 'STREAM'; 3: 'USER' }>
  readonly LegacyAreaCode: Readonly<{ [K in LegacyAreaCode]: K }>
  /** A numeric enum: name -> 0..37 and 0..37 -> name. */
  readonly LinkStateChangeReason4Report: Readonly<{ [K in LinkStateChangeReasonName]: number } & { [index: number]: LinkStateChangeReasonName }>
  /** name -> description ('Login success', …). */
  readonly LinkStateChangeReasonDescription: Readonly<{ [K in LinkStateChangeReasonName]: string }>
  readonly MessageType: Readonly<{ STRING: 'STRING'; BINARY: 'BINARY' }>
  readonly TokenEventReason: Readonly<{
    WILL_EXPIRE: 'The token is about to expire'
    READ_PERMISSION_REVOKED: 'The token read permission is revoked'
  }>
  readonly subscribedState: Readonly<{ UNSUBSCRIBED: 'UNSUBSCRIBED'; SUBSCRIBED: 'SUBSCRIBED' }>
}

/**
 * The SDK parameters that apply to Piazza, with their value types: defaults of the clients
 * created afterwards through `AgoraRTM.RTM` (an rtmConfig value wins). Any other key is refused
 * with an RTMError (RTM_ERROR_INVALID_PARAMETER).
 */
export interface RTMParameters {
  /** rtmConfig.heartbeatInterval, seconds (default 5). */
  HEART_BEAT: number
  /** rtmConfig.presenceTimeout, seconds (default 300). */
  PRESENCE_TIMEOUT: number
  /** rtmConfig.privateConfig.accessPointHosts (default: unset). */
  AP_DOMAIN_LIST: string[] | undefined
}
export type RTMParameterName = keyof RTMParameters

/** agora-rtm-sdk's `IAgoraRTM` (with the compat helpers) as Piazza has it. */
export interface IAgoraRTM {
  /** 'piazza-rtc <version>'. */
  readonly BUILD: string
  /** Piazza's version (not an agora-rtm-sdk version). */
  readonly VERSION: string
  /** The client: Piazza's RTM with setParameter's defaults. */
  readonly RTM: typeof RTM
  /** A parameter's value (its default when unset); throws RTMError for a key that does not apply. */
  getParameter<K extends RTMParameterName>(key: K): RTMParameters[K]
  /** Sets (null or undefined: resets) a parameter; throws RTMError for a key that does not apply or a value of the wrong type. */
  setParameter<K extends RTMParameterName>(key: K, value: RTMParameters[K] | null): void
  /** Checked and ignored: a Piazza server is where the config's endpoint says, not in an area. */
  setArea(options: { areaCodes: AreaCode[]; excludedArea?: AreaCode }): void
  readonly constantsType: ConstantsType
  /** RTMError, Piazza's error class (it has RTMBaseError's fields). */
  readonly RTMBaseError: typeof RTMError
  /** Not in the SDK's default export, but its docs' RTMConfig sample takes it from there. */
  readonly EncryptionMode: Readonly<{ [K in EncryptionMode]: K }>
}

declare const AgoraRTM: IAgoraRTM
export default AgoraRTM
