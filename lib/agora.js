'use strict'
// lib/agora.js: the default export of agora-rtm-sdk 2.x (`AgoraRTM`) over Piazza, for
// `piazza-rtc/rtm` (rtm.js, rtm.mjs, rtm.d.ts at the package root): code written for the SDK
// runs with only its import changed (and the server given in the config).
//
// Its keys are the SDK's: BUILD, VERSION, RTM, getParameter, setArea, setParameter,
// constantsType, RTMBaseError; and EncryptionMode, which the SDK's docs take from it. `RTM` is Piazza's client with the parameters set here as its
// defaults; `RTMBaseError` is RTMError. Values that have no meaning for a self-hosted server
// (areas) are checked and ignored; parameters that do not apply are refused with an RTMError.

const native = require('./native')
const { RTMError, invalid } = require('./errors')
const { RTM: PiazzaRTM } = require('./rtm')

const names = (list) => Object.freeze(Object.fromEntries(list.map((n) => [n, n])))
/** A TypeScript numeric enum object: NAME -> index and index -> NAME. */
const numericEnum = (list) => Object.freeze(Object.fromEntries(list.flatMap((n, i) => [[i, n], [n, i]])))

const LinkStateChangeReasonDescription = Object.freeze({
  UNKNOWN: 'Unknown',
  LOGIN: 'Perform login operation',
  LOGIN_SUCCESS: 'Login success',
  LOGIN_TIMEOUT: 'Login timeout',
  LOGIN_NOT_AUTHORIZED: 'Login not authorized',
  LOGIN_REJECTED: 'Login rejected',
  RELOGIN: 'Perform login operation again',
  LOGOUT: 'Logout success',
  AUTO_RECONNECT: 'Reconnecting',
  RECONNECT_TIMEOUT: 'Reconnect timeout',
  RECONNECT_SUCCESS: 'Reconnect success',
  JOIN: 'Perform join operation',
  JOIN_SUCCESS: 'Join channel success',
  JOIN_FAILED: 'Join channel failed',
  REJOIN: 'Perform join operation again',
  LEAVE: 'Leave channel success',
  INVALID_TOKEN: 'Invalid token',
  TOKEN_EXPIRED: 'Token expired',
  INCONSISTENT_APP_ID: 'Inconsistent app ID',
  INVALID_CHANNEL_NAME: 'Invalid channel name',
  INVALID_USER_ID: 'Invalid user id',
  NOT_INITIALIZED: 'Not initialized',
  RTM_SERVICE_NOT_CONNECTED: 'RTM service not connected',
  CHANNEL_INSTANCE_EXCEED_LIMITATION: 'Channel instance exceed limitation',
  OPERATION_RATE_EXCEED_LIMITATION: 'Operation rate exceed limitation',
  CHANNEL_IN_ERROR_STATE: 'Channel in error state',
  PRESENCE_NOT_CONNECTED: 'Presence not connected',
  SAME_UID_LOGIN: 'The same uid login on another device',
  KICKED_OUT_BY_SERVER: 'Kicked out by server',
  KEEP_ALIVE_TIMEOUT: 'Keep alive timeout',
  CONNECTION_ERROR: 'Connection error',
  PRESENCE_NOT_READY: 'Presence not ready',
  NETWORK_CHANGE: 'Network change',
  SERVICE_NOT_SUPPORTED: 'Service not supported',
  STREAM_CHANNEL_NOT_AVAILABLE: 'Stream channel not available',
  STORAGE_NOT_AVAILABLE: 'Storage service is not available',
  LOCK_NOT_AVAILABLE: 'Lock service is not available',
  LOGIN_TOO_FREQUENT: 'Login operation is too frequent',
})

const AreaCode = names(['GLOBAL', 'INDIA', 'JAPAN', 'ASIA', 'EUROPE', 'CHINA', 'NORTH_AMERICA'])

/** agora-rtm-sdk's `AgoraRTM.constantsType`, with the SDK's values. */
const constantsType = Object.freeze({
  AreaCode,
  ChannelTypeEnum: Object.freeze({ 1: 'MESSAGE', 2: 'STREAM', 3: 'USER', MESSAGE: 1, STREAM: 2, USER: 3 }),
  LegacyAreaCode: names(['CN', 'NA', 'EU', 'AS', 'JP', 'IN', 'GLOB', 'OC', 'SA', 'AF', 'KR', 'US', 'OVS']),
  LinkStateChangeReason4Report: numericEnum(Object.keys(LinkStateChangeReasonDescription)),
  LinkStateChangeReasonDescription,
  MessageType: names(['STRING', 'BINARY']),
  TokenEventReason: Object.freeze({
    WILL_EXPIRE: 'The token is about to expire',
    READ_PERMISSION_REVOKED: 'The token read permission is revoked',
  }),
  subscribedState: names(['UNSUBSCRIBED', 'SUBSCRIBED']),
})

/**
 * The SDK parameters that apply to Piazza: defaults of the clients created afterwards through
 * `AgoraRTM.RTM` (an rtmConfig value wins). null or undefined resets one.
 */
const PARAMETERS = {
  /** rtmConfig.heartbeatInterval, seconds (default 5). */
  HEART_BEAT: { option: 'heartbeatInterval', fallback: 5, check: (v) => typeof v === 'number' },
  /** rtmConfig.presenceTimeout, seconds (default 300). */
  PRESENCE_TIMEOUT: { option: 'presenceTimeout', fallback: 300, check: (v) => typeof v === 'number' },
  /** rtmConfig.privateConfig.accessPointHosts (host names or ws:// / wss:// URLs). */
  AP_DOMAIN_LIST: {
    option: 'accessPointHosts',
    fallback: undefined,
    check: (v) => Array.isArray(v) && v.every((h) => typeof h === 'string'),
  },
}
const parameters = new Map()

function parameter (operation, key) {
  const p = Object.prototype.hasOwnProperty.call(PARAMETERS, key) ? PARAMETERS[key] : undefined
  if (!p) {
    throw invalid(operation, `parameter ${JSON.stringify(key)} does not apply to Piazza (those that do: ${Object.keys(PARAMETERS).join(', ')})`)
  }
  return p
}

/** Sets a parameter that applies (see PARAMETERS); any other key is refused with an RTMError. */
function setParameter (key, value) {
  const p = parameter('setParameter', key)
  if (value === undefined || value === null) {
    parameters.delete(key)
    return
  }
  if (!p.check(value)) throw invalid('setParameter', `parameter ${key} has a value of the wrong type: ${JSON.stringify(value)}`)
  parameters.set(key, Array.isArray(value) ? [...value] : value)
}

/** The value of a parameter that applies (its default when unset); any other key is refused. */
function getParameter (key) {
  const p = parameter('getParameter', key)
  const value = parameters.has(key) ? parameters.get(key) : p.fallback
  return Array.isArray(value) ? [...value] : value
}

/** Checked and ignored: a Piazza server is where its `endpoint` says, not in an area. */
function setArea (options) {
  if (options === null || typeof options !== 'object' || !Array.isArray(options.areaCodes)) {
    throw invalid('setArea', 'options.areaCodes must be an array of AreaCode values')
  }
  for (const code of [...options.areaCodes, ...(options.excludedArea === undefined ? [] : [options.excludedArea])]) {
    if (!Object.prototype.hasOwnProperty.call(AreaCode, code)) {
      throw invalid('setArea', `${JSON.stringify(code)} is not an AreaCode (${Object.keys(AreaCode).join(', ')})`)
    }
  }
}

/** The rtmConfig with the parameters set by setParameter filled in where it has none. */
function withParameters (rtmConfig) {
  if (parameters.size === 0 || rtmConfig === null || typeof rtmConfig !== 'object') return rtmConfig
  const config = { ...rtmConfig }
  for (const [key, value] of parameters) {
    const { option } = PARAMETERS[key]
    if (option === 'accessPointHosts') {
      const privateConfig = { ...config.privateConfig }
      if (privateConfig.accessPointHosts === undefined) privateConfig.accessPointHosts = value
      config.privateConfig = privateConfig
    } else if (config[option] === undefined) {
      config[option] = value
    }
  }
  return config
}

/** Piazza's RTM client with setParameter's defaults (an instance of the RTM of `piazza-rtc`). */
class RTM extends PiazzaRTM {
  constructor (appId, userId, rtmConfig) {
    super(appId, userId, withParameters(rtmConfig === undefined ? {} : rtmConfig))
  }
}

const VERSION = native.version()

const AgoraRTM = {
  /** `piazza-rtc <version>` (the SDK has its build id here). */
  BUILD: `piazza-rtc ${VERSION}`,
  /** Piazza's version (not an agora-rtm-sdk version). */
  VERSION,
  RTM,
  getParameter,
  setArea,
  setParameter,
  constantsType,
  RTMBaseError: RTMError,
  /**
   * Not in the SDK's default export (a type there), but the docs' RTMConfig sample takes
   * `EncryptionMode.AES_256_GCM` from it: the values of rtmConfig.encryptionMode.
   */
  EncryptionMode: names(['NONE', 'AES_128_GCM', 'AES_256_GCM']),
}
// For TypeScript's CommonJS output without esModuleInterop (`rtm_1.default`); not a key.
Object.defineProperty(AgoraRTM, 'default', { value: AgoraRTM })

module.exports = { AgoraRTM: Object.freeze(AgoraRTM) }
