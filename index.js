'use strict'
// Piazza's public JavaScript API: a thin, typed layer over the generated binding (binding.js).
// The binding is mechanical (Rust classes, JSON in, JSON out); this file gives it the shapes of
// the SDKs Piazza replaces: RTM (agora-rtm-sdk 2.x), TRTCCloud, webxdc realtime channels.
// Types: index.d.ts. Event path: native batches -> one JSON.parse -> listeners (see dispatch).

const native = require('./binding.js')

// ---------------------------------------------------------------------------------------------
// Constants

/** name -> numeric RTM error code, e.g. ErrorCode.RTM_ERROR_NOT_LOGIN === -10002. */
const ERROR_TABLE = JSON.parse(native.errorTable())
const ErrorCode = Object.freeze(Object.fromEntries(ERROR_TABLE.filter((e) => e.name.startsWith('RTM_')).map((e) => [e.name, e.code])))
/** TRTC codes (onEnterRoom(result < 0), onError), e.g. TRTCErrorCode.ERR_ROOM_ID_INVALID === -3318. */
const TRTCErrorCode = Object.freeze(Object.fromEntries(ERROR_TABLE.filter((e) => e.name.startsWith('ERR_')).map((e) => [e.name, e.code])))
const ERROR_NAMES = new Map(ERROR_TABLE.map((e) => [e.code, e.name]))

const ChannelType = Object.freeze({ MESSAGE: 'MESSAGE', STREAM: 'STREAM', USER: 'USER' })
const MessageType = Object.freeze({ STRING: 'STRING', BINARY: 'BINARY' })
const LinkState = Object.freeze({
  IDLE: 'IDLE', CONNECTING: 'CONNECTING', CONNECTED: 'CONNECTED',
  DISCONNECTED: 'DISCONNECTED', SUSPENDED: 'SUSPENDED', FAILED: 'FAILED',
})
const PresenceEventType = Object.freeze({
  SNAPSHOT: 'SNAPSHOT', INTERVAL: 'INTERVAL', REMOTE_JOIN: 'REMOTE_JOIN', REMOTE_LEAVE: 'REMOTE_LEAVE',
  REMOTE_TIMEOUT: 'REMOTE_TIMEOUT', REMOTE_STATE_CHANGED: 'REMOTE_STATE_CHANGED', ERROR_OUT_OF_SERVICE: 'ERROR_OUT_OF_SERVICE',
})
const TopicEventType = Object.freeze({ SNAPSHOT: 'SNAPSHOT', REMOTE_JOIN: 'REMOTE_JOIN', REMOTE_LEAVE: 'REMOTE_LEAVE' })
const RTM_EVENT_TYPES = new Set([
  'message', 'presence', 'topic', 'storage', 'lock', 'linkState', 'token', 'tokenPrivilegeWillExpire', 'status', 'error',
])
const ENCRYPTION_MODES = new Set(['NONE', 'AES_128_GCM', 'AES_256_GCM'])

// ---------------------------------------------------------------------------------------------
// Errors: the one place native error JSON becomes a JS Error (RTM ErrorInfo shape).

/**
 * An Error carrying the RTM ErrorInfo fields: { error: true, operation, errorCode, reason },
 * plus `code` (= errorCode, as RTMBaseError has it) and `name` of the code in the message.
 */
class RTMError extends Error {
  constructor (operation, errorCode, reason, codeName) {
    const name = codeName || ERROR_NAMES.get(errorCode) || 'RTM_ERROR_UNKNOWN'
    super(`${name}: ${reason}`)
    this.name = 'RTMError'
    this.error = true
    this.operation = operation
    this.errorCode = errorCode
    this.code = errorCode
    this.reason = reason
  }
}

/** Builds an RTMError from native error JSON (or from any thrown value). */
function fromNative (operation, raw) {
  const text = typeof raw === 'string' ? raw : (raw && raw.message) || String(raw)
  try {
    const e = JSON.parse(text)
    if (e && typeof e.code === 'number') return new RTMError(operation, e.code, e.reason, e.name)
  } catch (_) { /* not ours */ }
  return new RTMError(operation, ErrorCode.RTM_ERROR_INVALID_PARAMETER, text)
}

function invalid (operation, reason, code = ErrorCode.RTM_ERROR_INVALID_PARAMETER) {
  return new RTMError(operation, code, reason)
}

// ---------------------------------------------------------------------------------------------
// Keeping Node alive: native callbacks are weak, so an open server or a logged-in client holds
// a keep-alive handle; with none held, a process exits by itself.

let keepAliveCount = 0
let keepAliveTimer = null
/** Clients that hold the process (logged in or waiting for answers), as weak references. */
const liveClients = new Set()
function holdProcess () {
  // The keep-alive timer also drains every live client once a second: a safety net under the
  // wake-ups from the engine, so that no event can wait for long if one is ever missed.
  if (keepAliveCount++ === 0) {
    keepAliveTimer = setInterval(() => {
      for (const ref of liveClients) {
        const rtm = ref.deref()
        if (rtm === undefined) liveClients.delete(ref)
        else rtm._drain()
      }
    }, 1000)
  }
}
function releaseProcess () {
  if (--keepAliveCount === 0) {
    clearInterval(keepAliveTimer)
    keepAliveTimer = null
  }
}

/** A keep-alive hold that is released at most once (and when its owner is collected). */
const holdFinalizer = new FinalizationRegistry((hold) => hold.release())
class Hold {
  constructor () { this.held = false }
  acquire () { if (!this.held) { this.held = true; holdProcess() } }
  release () { if (this.held) { this.held = false; releaseProcess() } }
}

// ---------------------------------------------------------------------------------------------
// Listeners

let listenerErrors = 0
/** Calls a listener; an exception is reported with process.emitWarning and counted. */
function safeCall (fn, arg, what) {
  try {
    fn(arg)
  } catch (err) {
    listenerErrors++
    const warning = new Error(`a ${what} listener threw: ${err && err.stack ? err.stack : err}`)
    warning.name = 'PiazzaListenerError'
    process.emitWarning(warning)
  }
}

// ---------------------------------------------------------------------------------------------
// Server

/** A refused admin call (removeUser, dismissRoom): `code` is the TRTC server-API style code. */
class PiazzaAdminError extends Error {
  constructor (code, message, status) {
    super(`${code}: ${message}`)
    this.name = 'PiazzaAdminError'
    this.code = code
    this.status = status
  }
}

function adminCall (operation, fn) {
  try {
    return Promise.resolve(JSON.parse(fn()))
  } catch (e) {
    try {
      const info = JSON.parse(e.message)
      if (info && info.admin) return Promise.reject(new PiazzaAdminError(info.admin, info.reason, info.status))
    } catch (_) { /* not ours */ }
    return Promise.reject(fromNative(operation, e))
  }
}

/** Checks a TRTC room id: a number (roomId) or a string (strRoomId). */
function checkAdminRoom (roomId) {
  if (typeof roomId === 'number') {
    if (!Number.isInteger(roomId) || roomId < 1 || roomId > 4294967294) {
      throw new PiazzaAdminError('InvalidParameter.RoomId', `roomId ${roomId} is not an integer in 1..4294967294`, 400)
    }
  } else if (typeof roomId !== 'string') {
    throw new PiazzaAdminError('InvalidParameter.RoomId', 'roomId must be a number (roomId) or a string (strRoomId)', 400)
  }
}

class Server {
  /** Use Server.start(options). */
  constructor (handle) {
    if (!handle || typeof handle.close !== 'function') throw new TypeError('use Server.start(options)')
    this._native = handle
    this._hold = new Hold()
    this._hold.acquire()
    this._closing = null
    holdFinalizer.register(this, this._hold)
  }

  /** Starts a server. Rejects with RTM_ERROR_INVALID_PARAMETER on bad options. */
  static start (options = {}) {
    let json
    try {
      if (options === null || typeof options !== 'object') throw new Error('options must be an object')
      json = JSON.stringify(options)
    } catch (e) {
      return Promise.reject(invalid('Server.start', e.message))
    }
    return native.startServer(json).then((handle) => new Server(handle), (e) => { throw fromNative('Server.start', e) })
  }

  /** 'ws://host:port'. */
  get url () { return this._native.url }
  get port () { return this._native.port }

  /**
   * TRTC RemoveUser: removes up to 10 users from a room. They get onExitRoom(1), the others
   * onRemoteUserLeaveRoom(userId, 2), and they cannot re-enter for rooms.kickBanSeconds.
   * `roomId` is a number (roomId) or a string (strRoomId): two separate namespaces.
   */
  removeUser (appId, roomId, userIds) {
    return adminCall('removeUser', () => {
      if (typeof appId !== 'string' && typeof appId !== 'number') throw new PiazzaAdminError('InvalidParameter.AppId', 'appId must be a string', 400)
      checkAdminRoom(roomId)
      if (!Array.isArray(userIds) || !userIds.every((u) => typeof u === 'string')) {
        throw new PiazzaAdminError('InvalidParameter.UserIds', 'userIds must be an array of strings', 400)
      }
      return this._native.removeUsers(String(appId), roomId, userIds)
    })
  }

  /** TRTC DismissRoom: every member gets onExitRoom(2) and the room is gone. */
  dismissRoom (appId, roomId) {
    return adminCall('dismissRoom', () => {
      if (typeof appId !== 'string' && typeof appId !== 'number') throw new PiazzaAdminError('InvalidParameter.AppId', 'appId must be a string', 400)
      checkAdminRoom(roomId)
      return this._native.dismissRoom(String(appId), roomId)
    })
  }

  /** Counters and sizes of this node. */
  stats () {
    return Promise.resolve(JSON.parse(this._native.stats()))
  }

  /** Graceful close: clients are told, queues drain; idempotent. */
  close () {
    if (!this._closing) {
      this._closing = this._native.close().finally(() => this._hold.release())
    }
    return this._closing
  }
}

// ---------------------------------------------------------------------------------------------
// RTM client

const STATUS_OF_LINK = {
  IDLE: 'DISCONNECTED', CONNECTING: 'CONNECTING', CONNECTED: 'CONNECTED',
  DISCONNECTED: 'RECONNECTING', SUSPENDED: 'RECONNECTING', FAILED: 'FAILED',
}

function checkString (operation, value, what) {
  if (typeof value !== 'string') throw invalid(operation, `${what} must be a string, got ${typeof value}`)
}

function checkOptions (operation, options) {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw invalid(operation, 'options must be an object')
  }
  return options || {}
}

function bool (value, fallback) { return value === undefined ? fallback : Boolean(value) }

class RTM {
  /**
   * @param {string} appId
   * @param {string} userId
   * @param {object} [rtmConfig] RTM 2 config plus `endpoint` ('ws://…'; default PIAZZA_URL)
   */
  constructor (appId, userId, rtmConfig = {}) {
    checkString('constructor', appId, 'appId')
    checkString('constructor', userId, 'userId')
    if (rtmConfig === null || typeof rtmConfig !== 'object') throw invalid('constructor', 'rtmConfig must be an object')
    const config = { ...rtmConfig }
    if (config.encryptionMode !== undefined && !ENCRYPTION_MODES.has(config.encryptionMode)) {
      throw invalid('constructor', `encryptionMode ${JSON.stringify(config.encryptionMode)} is not one of NONE, AES_128_GCM, AES_256_GCM`, ErrorCode.RTM_ERROR_INVALID_ENCRYPTION_PARAMETER)
    }
    if (config.cipherKey !== undefined && typeof config.cipherKey !== 'string') {
      throw invalid('constructor', 'cipherKey must be a string', ErrorCode.RTM_ERROR_INVALID_ENCRYPTION_PARAMETER)
    }
    if (config.salt !== undefined) {
      if (!(config.salt instanceof Uint8Array)) {
        throw invalid('constructor', 'salt must be a Uint8Array', ErrorCode.RTM_ERROR_INVALID_ENCRYPTION_PARAMETER)
      }
      config.salt = Array.from(config.salt)
    }
    this.appId = appId
    this.userId = userId
    this._listeners = new Map()
    this._pending = new Map()
    this._realtime = new Map()
    /** Presence queries and temporary states (RTM `rtm.presence`). */
    this.presence = new RTMPresence(this)
    this._nextTag = 1
    // Held while logged in, and while any request waits for its answer.
    this._hold = new Hold()
    this._pendingHold = new Hold()
    const self = new WeakRef(this)
    try {
      this._native = new native.NativeClient(appId, userId, JSON.stringify(config), () => {
        const rtm = self.deref()
        if (rtm) rtm._drain()
      })
    } catch (e) {
      throw fromNative('constructor', e)
    }
    liveClients.add(self)
    holdFinalizer.register(this, this._hold)
    holdFinalizer.register(this, this._pendingHold)
  }

  addEventListener (eventName, listener) {
    if (!RTM_EVENT_TYPES.has(eventName)) throw invalid('addEventListener', `unknown event type ${JSON.stringify(eventName)}`)
    if (typeof listener !== 'function') throw invalid('addEventListener', 'listener must be a function')
    let set = this._listeners.get(eventName)
    if (!set) this._listeners.set(eventName, (set = new Set()))
    set.add(listener)
  }

  removeEventListener (eventName, listener) {
    const set = this._listeners.get(eventName)
    if (set) set.delete(listener)
  }

  /** Number of exceptions thrown by listeners of any client (each reported with emitWarning). */
  static get listenerErrorCount () { return listenerErrors }

  _emit (eventName, payload) {
    const set = this._listeners.get(eventName)
    if (!set || set.size === 0) return
    if (set.size === 1) {
      safeCall(set.values().next().value, payload, eventName)
      return
    }
    // A listener may add or remove listeners: call the ones registered now.
    for (const fn of [...set]) safeCall(fn, payload, eventName)
  }

  /** Registers a request; `submit(tag)` returns null or the native error JSON. */
  _call (operation, submit) {
    return new Promise((resolve, reject) => {
      const tag = this._nextTag
      this._nextTag = tag >= 0xfffffff0 ? 1 : tag + 1
      let refused
      try {
        refused = submit(tag)
      } catch (e) {
        reject(e instanceof RTMError ? e : fromNative(operation, e))
        return
      }
      if (refused) {
        reject(fromNative(operation, refused))
      } else {
        if (this._pending.size === 0) this._pendingHold.acquire()
        this._pending.set(tag, { resolve, reject, operation })
      }
    })
  }

  /** Dispatches one native batch (see src/sink.rs for the entry shapes). */
  _drain () {
    const batch = this._native.drain()
    const entries = JSON.parse(batch.json)
    const bin = batch.bin
    const settled = this._pending.size > 0
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]
      switch (entry[0]) {
        case 'r': {
          const p = this._pending.get(entry[1])
          if (p) { this._pending.delete(entry[1]); p.resolve(entry[2]) }
          break
        }
        case 'e': {
          const p = this._pending.get(entry[1])
          if (p) { this._pending.delete(entry[1]); p.reject(new RTMError(p.operation, entry[2], entry[4], entry[3])) }
          break
        }
        case 'message': {
          const event = entry[1]
          if (entry.length > 2) event.message = new Uint8Array(bin.buffer, bin.byteOffset + entry[2], entry[3])
          this._emit('message', event)
          break
        }
        case 'linkState':
          this._onLinkState(entry[1])
          break
        case 'token': {
          const e = entry[1]
          this._emit('token', { eventType: e.eventType, reason: e.reason, affectedResources: e.affectedResources, timestamp: e.timestamp })
          if (e.eventType === 'WILL_EXPIRE') this._emit('tokenPrivilegeWillExpire', e.channelName)
          break
        }
        case 'error': {
          const e = entry[1]
          if ((this._listeners.get('error') || new Set()).size > 0) {
            this._emit('error', e)
          } else {
            const warning = new Error(`${ERROR_NAMES.get(e.errorCode) || e.errorCode}: ${e.reason} (${e.channelType} ${e.channelName}, from ${e.publisher || 'unknown'})`)
            warning.name = 'PiazzaDecryptionError'
            process.emitWarning(warning)
          }
          break
        }
        case 'rt': {
          const channel = this._realtime.get(entry[1])
          if (channel && channel._listener) {
            safeCall(channel._listener, new Uint8Array(bin.buffer, bin.byteOffset + entry[2], entry[3]), 'realtime')
          }
          break
        }
        case 'room':
        case 'roomRestored':
        case 'roomRestoreFailed':
          if (this._onRoomEvent) this._onRoomEvent(entry[0], entry[1])
          break
        case 'cmd':
          if (this._onRoomEvent) {
            const data = entry.length > 3 ? new Uint8Array(bin.buffer, bin.byteOffset + entry[2], entry[3]) : entry[2]
            this._onRoomEvent('cmd', entry[1], data)
          }
          break
        default:
          this._emit(entry[0], entry[1])
      }
    }
    if (settled && this._pending.size === 0) this._pendingHold.release()
  }

  _onLinkState (event) {
    if (event.currentState === 'IDLE' || event.currentState === 'FAILED') this._hold.release()
    this._emit('linkState', event)
    this._emit('status', { state: STATUS_OF_LINK[event.currentState], reason: event.reasonCode, timestamp: event.timestamp })
  }

  /** Logs in to the server (`endpoint`). */
  login (options) {
    let token
    try {
      options = checkOptions('login', options)
      token = options.token
      if (token !== undefined && token !== null && typeof token !== 'string') throw invalid('login', 'token must be a string')
    } catch (e) {
      return Promise.reject(e)
    }
    this._hold.acquire()
    return this._call('login', (tag) => this._native.login(tag, token || null)).catch((e) => {
      if (this._native.linkState() === 'IDLE' || this._native.linkState() === 'FAILED') this._hold.release()
      throw e
    })
  }

  /**
   * Replaces the login token (or, with `options.channelName`, the token of a joined stream
   * channel) without reconnecting. Listen for `tokenPrivilegeWillExpire` to know when.
   */
  renewToken (token, options) {
    return this._request('renewToken', () => {
      checkString('renewToken', token, 'token')
      const o = checkOptions('renewToken', options)
      if (o.channelName !== undefined) checkString('renewToken', o.channelName, 'channelName')
      return { op: 'renewToken', token, channel: o.channelName || undefined }
    }).then((r) => ({ timestamp: r.timestamp }))
  }

  /** Logs out; others see the user leave at once. */
  logout () {
    return this._call('logout', (tag) => { this._native.logout(tag); return null })
  }

  /** Subscribes to a message channel. */
  subscribe (channelName, options) {
    return this._call('subscribe', (tag) => {
      checkString('subscribe', channelName, 'channelName')
      const o = checkOptions('subscribe', options)
      return this._native.subscribe(tag, channelName, {
        withMessage: bool(o.withMessage, true),
        withPresence: bool(o.withPresence, true),
        beQuiet: bool(o.beQuiet, false),
        withMetadata: bool(o.withMetadata, false),
        withLock: bool(o.withLock, false),
      })
    })
  }

  unsubscribe (channelName) {
    return this._call('unsubscribe', (tag) => {
      checkString('unsubscribe', channelName, 'channelName')
      return this._native.unsubscribe(tag, channelName)
    })
  }

  /** Sends a protocol request built by `frame()`; `payload` goes with publishTopic. */
  _request (operation, frame, payload = null) {
    return this._call(operation, (tag) => this._native.call(tag, JSON.stringify(frame()), payload))
  }

  /** A stream channel instance (synchronous; join it to use it). */
  createStreamChannel (channelName) {
    if (typeof channelName !== 'string') throw invalid('createStreamChannel', 'channelName must be a string')
    const refused = this._native.checkName('channel', channelName)
    if (refused) throw fromNative('createStreamChannel', refused)
    return new RTMStreamChannel(this, channelName)
  }

  /**
   * Joins a webxdc-style realtime channel for `scope` (synchronous). Data sent there reaches the
   * other members connected now; nothing is stored. Throws if the scope is already joined.
   */
  joinRealtimeChannel (scope) {
    const op = 'joinRealtimeChannel'
    if (typeof scope !== 'string') throw invalid(op, 'scope must be a string')
    const refused = this._native.checkName('scope', scope)
    if (refused) throw fromNative(op, refused)
    const state = this._native.linkState()
    if (state === 'IDLE' || state === 'FAILED') throw invalid(op, 'joinRealtimeChannel needs a logged-in client', ErrorCode.RTM_ERROR_NOT_LOGIN)
    if (this._realtime.has(scope)) {
      throw invalid(op, `realtime scope ${JSON.stringify(scope)} is already joined; leave it first`, ErrorCode.RTM_ERROR_DUPLICATE_OPERATION)
    }
    const channel = new RealtimeChannel(this, scope)
    this._realtime.set(scope, channel)
    this._request(op, () => ({ op: 'realtimeJoin', scope })).catch((err) => channel._refused(err))
    return channel
  }

  /** Publishes a string or Uint8Array to a message channel, or to a user (channelType 'USER'). */
  publish (channelName, message, options) {
    return this._call('publish', (tag) => {
      checkString('publish', channelName, 'channelName')
      if (typeof message !== 'string' && !(message instanceof Uint8Array)) {
        throw invalid('publish', 'message must be a string or a Uint8Array')
      }
      const o = checkOptions('publish', options)
      const channelType = o.channelType === undefined ? 'MESSAGE' : o.channelType
      if (channelType !== 'MESSAGE' && channelType !== 'USER') {
        throw invalid('publish', `channelType must be 'MESSAGE' or 'USER', got ${JSON.stringify(channelType)}`, ErrorCode.RTM_ERROR_INVALID_CHANNEL_TYPE)
      }
      const customType = o.customType === undefined ? '' : o.customType
      checkString('publish', customType, 'customType')
      return this._native.publish(tag, channelName, message, customType, channelType)
    })
  }
}

// ---------------------------------------------------------------------------------------------
// Presence (RTM rtm.presence)

const PRESENCE_CHANNEL_TYPES = new Set(['MESSAGE', 'STREAM'])

function checkChannelType (operation, channelType) {
  if (!PRESENCE_CHANNEL_TYPES.has(channelType)) {
    throw invalid(operation, `channelType must be 'MESSAGE' or 'STREAM', got ${JSON.stringify(channelType)}`, ErrorCode.RTM_ERROR_INVALID_CHANNEL_TYPE)
  }
}

function checkStates (operation, states) {
  if (states === null || typeof states !== 'object' || Array.isArray(states)) {
    throw invalid(operation, 'state must be an object of string values', ErrorCode.RTM_ERROR_PRESENCE_INVALID_ARGUMENT)
  }
  for (const [key, value] of Object.entries(states)) {
    if (typeof value !== 'string') {
      throw invalid(operation, `the value of state ${JSON.stringify(key)} must be a string, got ${typeof value}`, ErrorCode.RTM_ERROR_PRESENCE_INVALID_STATE_VALUE)
    }
  }
}

class RTMPresence {
  constructor (rtm) {
    this._rtm = rtm
  }

  /** Who is in a channel: pages of 50, `nextPage` '' on the last one. */
  whoNow (channelName, channelType, options) {
    return this._rtm._request('whoNow', () => {
      checkString('whoNow', channelName, 'channelName')
      checkChannelType('whoNow', channelType)
      const o = checkOptions('whoNow', options)
      if (o.page !== undefined && typeof o.page !== 'string') throw invalid('whoNow', 'page must be a string')
      return {
        op: 'whoNow',
        channel: channelName,
        channelType,
        includedUserId: bool(o.includedUserId, true),
        includedState: bool(o.includedState, false),
        page: o.page || undefined,
      }
    })
  }

  getOnlineUsers (channelName, channelType, options) {
    return this.whoNow(channelName, channelType, options)
  }

  /** The channels a user is visibly in. */
  whereNow (userId) {
    return this._rtm._request('whereNow', () => {
      checkString('whereNow', userId, 'userId')
      return { op: 'whereNow', userId }
    })
  }

  getUserChannels (userId) {
    return this.whereNow(userId)
  }

  /** Sets (merges) your temporary states in a channel; before joining, they apply on join. */
  setState (channelName, channelType, state) {
    return this._rtm._request('setState', () => {
      checkString('setState', channelName, 'channelName')
      checkChannelType('setState', channelType)
      checkStates('setState', state)
      return { op: 'setState', channel: channelName, channelType, states: state }
    })
  }

  /** A user's states in a channel. */
  getState (userId, channelName, channelType) {
    return this._rtm._request('getState', () => {
      checkString('getState', userId, 'userId')
      checkString('getState', channelName, 'channelName')
      checkChannelType('getState', channelType)
      return { op: 'getState', userId, channel: channelName, channelType }
    })
  }

  /** Removes your states: the keys in `options.states`, or all of them. */
  removeState (channelName, channelType, options) {
    return this._rtm._request('removeState', () => {
      checkString('removeState', channelName, 'channelName')
      checkChannelType('removeState', channelType)
      const o = checkOptions('removeState', options)
      if (o.states !== undefined && (!Array.isArray(o.states) || !o.states.every((k) => typeof k === 'string'))) {
        throw invalid('removeState', 'states must be an array of keys', ErrorCode.RTM_ERROR_PRESENCE_INVALID_ARGUMENT)
      }
      return { op: 'removeState', channel: channelName, channelType, keys: o.states }
    })
  }
}

// ---------------------------------------------------------------------------------------------
// Stream channels (RTM RTMStreamChannel)

function checkTopic (operation, topic) {
  if (typeof topic !== 'string') throw invalid(operation, 'topicName must be a string')
}

function checkUsers (operation, options) {
  const o = checkOptions(operation, options)
  if (o.users === undefined) return undefined
  if (!Array.isArray(o.users) || !o.users.every((u) => typeof u === 'string')) {
    throw invalid(operation, 'users must be an array of strings')
  }
  return o.users
}

class RTMStreamChannel {
  constructor (rtm, channelName) {
    this._rtm = rtm
    this.channelName = channelName
    this._released = false
    /** topic -> Set of publishers subscribed (what getSubscribedUserList answers). */
    this._subscribed = new Map()
  }

  _check (operation) {
    if (this._released) {
      throw invalid(operation, `stream channel ${JSON.stringify(this.channelName)} was released; create a new instance`, ErrorCode.RTM_ERROR_INSTANCE_ALREADY_RELEASED)
    }
  }

  _request (operation, frame, payload = null) {
    return this._rtm._call(operation, (tag) => {
      this._check(operation)
      return this._rtm._native.call(tag, JSON.stringify(frame()), payload)
    })
  }

  /** Joins the channel: presence and topic SNAPSHOTs arrive, others see REMOTE_JOIN. */
  join (options) {
    return this._request('join', () => {
      const o = checkOptions('join', options)
      if (o.token !== undefined && typeof o.token !== 'string') throw invalid('join', 'token must be a string')
      return {
        op: 'join',
        channel: this.channelName,
        token: o.token,
        withPresence: bool(o.withPresence, true),
        beQuiet: bool(o.beQuiet, false),
        withMetadata: bool(o.withMetadata, false),
        withLock: bool(o.withLock, false),
      }
    }).then((r) => { this._subscribed.clear(); return r })
  }

  /** Leaves: every publisher role and subscription is dropped. */
  leave () {
    return this._request('leave', () => ({ op: 'leave', channel: this.channelName }))
      .then((r) => { this._subscribed.clear(); return r })
  }

  /** Leaves if joined and frees the instance; every later call rejects with INSTANCE_ALREADY_RELEASED. */
  release () {
    try {
      this._check('release')
    } catch (e) {
      return Promise.reject(e)
    }
    const leaving = this.leave().catch(() => null)
    this._released = true
    return leaving.then(() => ({ timestamp: Date.now(), channelName: this.channelName }))
  }

  /** Registers as a publisher of `topicName` (≤ 8 per channel). */
  joinTopic (topicName, options) {
    return this._request('joinTopic', () => {
      checkTopic('joinTopic', topicName)
      const o = checkOptions('joinTopic', options)
      const meta = o.meta === undefined ? '' : (typeof o.meta === 'string' ? o.meta : JSON.stringify(o.meta))
      return { op: 'joinTopic', channel: this.channelName, topic: topicName, meta }
    })
  }

  leaveTopic (topicName) {
    return this._request('leaveTopic', () => {
      checkTopic('leaveTopic', topicName)
      return { op: 'leaveTopic', channel: this.channelName, topic: topicName }
    })
  }

  /** Publishes to the users subscribed to this user in `topicName`. */
  publishTopicMessage (topicName, message, options) {
    const op = 'publishTopicMessage'
    return this._rtm._call(op, (tag) => {
      this._check(op)
      checkTopic(op, topicName)
      if (typeof message !== 'string' && !(message instanceof Uint8Array)) throw invalid(op, 'message must be a string or a Uint8Array')
      const o = checkOptions(op, options)
      const customType = o.customType === undefined ? '' : o.customType
      checkString(op, customType, 'customType')
      const frame = {
        op: 'publishTopic',
        channel: this.channelName,
        topic: topicName,
        messageType: typeof message === 'string' ? 'STRING' : 'BINARY',
        customType,
      }
      return this._rtm._native.call(tag, JSON.stringify(frame), message)
    })
  }

  /** Subscribes to publishers of a topic (incremental; without `users`, up to 64 current publishers). */
  subscribeTopic (topicName, options) {
    return this._request('subscribeTopic', () => {
      checkTopic('subscribeTopic', topicName)
      return { op: 'subscribeTopic', channel: this.channelName, topic: topicName, users: checkUsers('subscribeTopic', options) }
    }).then((r) => {
      let set = this._subscribed.get(topicName)
      if (!set) this._subscribed.set(topicName, (set = new Set()))
      for (const user of r.succeedUsers) set.add(user)
      return r
    })
  }

  /** Unsubscribes from the given publishers, or (without `users`) from the whole topic. */
  unsubscribeTopic (topicName, options) {
    let users
    return this._request('unsubscribeTopic', () => {
      checkTopic('unsubscribeTopic', topicName)
      users = checkUsers('unsubscribeTopic', options)
      return { op: 'unsubscribeTopic', channel: this.channelName, topic: topicName, users }
    }).then((r) => {
      const set = this._subscribed.get(topicName)
      if (users === undefined) this._subscribed.delete(topicName)
      else if (set) for (const user of users) set.delete(user)
      return r
    })
  }

  /** The publishers this client subscribed to in `topicName` (synchronous). */
  getSubscribedUserList (topicName) {
    this._check('getSubscribedUserList')
    checkTopic('getSubscribedUserList', topicName)
    return { timestamp: Date.now(), topicName, subscribed: [...(this._subscribed.get(topicName) || [])] }
  }
}

// ---------------------------------------------------------------------------------------------
// Realtime channels (webxdc joinRealtimeChannel)

/** Largest realtime datagram, in bytes. */
const MAX_REALTIME_BYTES = 128000

class RealtimeChannel {
  constructor (rtm, scope) {
    this._rtm = rtm
    this.scope = scope
    this._listener = null
    this._left = false
  }

  _check (operation) {
    if (this._left) throw invalid(operation, `the realtime channel ${JSON.stringify(this.scope)} was left; join again for a new one`, ErrorCode.RTM_ERROR_CHANNEL_NOT_JOINED)
  }

  /** Sets (or replaces) the function that receives the other members' data. */
  setListener (listener) {
    this._check('setListener')
    if (listener !== null && typeof listener !== 'function') throw invalid('setListener', 'listener must be a function')
    this._listener = listener
  }

  /** Sends `data` (a Uint8Array of at most 128000 bytes) to the other members; best effort. */
  send (data) {
    this._check('send')
    if (!(data instanceof Uint8Array)) throw invalid('send', 'data must be a Uint8Array')
    if (data.length > MAX_REALTIME_BYTES) {
      throw invalid('send', `data is ${data.length} bytes; at most ${MAX_REALTIME_BYTES} are allowed`, ErrorCode.RTM_ERROR_CHANNEL_MESSAGE_LENGTH_EXCEED_LIMITATION)
    }
    const refused = this._rtm._native.realtimeSend(this.scope, data)
    if (refused) throw fromNative('send', refused)
  }

  /** Leaves; the object is unusable afterwards. */
  leave () {
    this._check('leave')
    this._left = true
    this._listener = null
    this._rtm._realtime.delete(this.scope)
    this._rtm._request('leaveRealtimeChannel', () => ({ op: 'realtimeLeave', scope: this.scope })).catch(() => {})
  }

  _refused (err) {
    if (this._rtm._realtime.get(this.scope) === this) this._rtm._realtime.delete(this.scope)
    this._left = true
    this._listener = null
    if (err.errorCode === ErrorCode.RTM_ERROR_NOT_LOGIN) return // logged out meanwhile: nothing to report
    const warning = new Error(`joining realtime channel ${JSON.stringify(this.scope)} failed: ${err.message}`)
    warning.name = 'PiazzaRealtimeError'
    process.emitWarning(warning)
  }
}

// ---------------------------------------------------------------------------------------------
// TRTC rooms (trtc-electron-sdk TRTCCloud shape)

const TRTCAppScene = Object.freeze({
  TRTCAppSceneVideoCall: 0, TRTCAppSceneLIVE: 1, TRTCAppSceneAudioCall: 2, TRTCAppSceneVoiceChatRoom: 3,
})
const TRTCRoleType = Object.freeze({ TRTCRoleAnchor: 20, TRTCRoleAudience: 21 })
const SCENE_NAMES = ['videoCall', 'live', 'audioCall', 'voiceChatRoom']
const ROLE_NAMES = { 20: 'anchor', 21: 'audience' }
const TRTC_EVENTS = new Set([
  'onEnterRoom', 'onExitRoom', 'onRemoteUserEnterRoom', 'onRemoteUserLeaveRoom', 'onError', 'onSwitchRole',
  'onSwitchRoom', 'onConnectionLost', 'onTryToReconnect', 'onConnectionRecovery', 'onRecvCustomCmdMsg',
  'onMissCustomCmdMsg',
])
const MAX_CMD_BYTES = 1024

/** A rate limit of `rate` units per second with a burst of `rate`. */
class Bucket {
  constructor (rate) { this.rate = rate; this.tokens = rate; this.at = Date.now() }
  take (n = 1) {
    const now = Date.now()
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.at) / 1000) * this.rate)
    this.at = now
    if (this.tokens < n) return false
    this.tokens -= n
    return true
  }
}

/** The RTM error code of a failed login or entry, as the TRTC code onEnterRoom reports. */
function trtcCode (err) {
  const code = err && err.errorCode
  if ((ERROR_NAMES.get(code) || '').startsWith('ERR_')) return code // already a TRTC code
  switch (code) {
    case ErrorCode.RTM_ERROR_INVALID_APP_ID: return TRTCErrorCode.ERR_SDK_APPID_INVALID
    case ErrorCode.RTM_ERROR_INVALID_USER_ID: return TRTCErrorCode.ERR_USER_ID_INVALID
    case ErrorCode.RTM_ERROR_INVALID_TOKEN:
    case ErrorCode.RTM_ERROR_TOKEN_EXPIRED:
    case ErrorCode.RTM_ERROR_INCONSISTENT_APPID:
    case ErrorCode.RTM_ERROR_LOGIN_NOT_AUTHORIZED: return TRTCErrorCode.ERR_USER_SIG_INVALID
    case ErrorCode.RTM_ERROR_LOGIN_TIMEOUT: return TRTCErrorCode.ERR_ROOM_REQUEST_ENTER_ROOM_TIMEOUT
    default: return TRTCErrorCode.ERR_ROOM_ENTER_FAIL
  }
}

/**
 * TRTC rooms over Piazza: enter/exit with exit reasons, roles and scenes, custom messages.
 * EventEmitter-style (`on`/`off`/`once`); every event is emitted asynchronously.
 */
class TRTCCloud {
  /** @param {{ endpoint?: string, presenceTimeout?: number, heartbeatInterval?: number, logLevel?: string, privateConfig?: object }} [options] */
  constructor (options = {}) {
    if (options === null || typeof options !== 'object') throw invalid('TRTCCloud', 'options must be an object')
    const { presenceTimeout } = options
    if (presenceTimeout !== undefined && (!Number.isInteger(presenceTimeout) || presenceTimeout < 5 || presenceTimeout > 300)) {
      throw invalid('TRTCCloud', `presenceTimeout ${presenceTimeout} is outside [5, 300] seconds`)
    }
    this._options = { ...options, kind: 'trtc' }
    // Validate the rest once, with placeholder ids.
    try {
      // eslint-disable-next-line no-new
      new native.NativeClient('1', 'check', JSON.stringify(this._options), () => {})
    } catch (e) {
      throw fromNative('TRTCCloud', e)
    }
    this._listeners = new Map()
    this._rtm = null // the RTM-shaped client of the current identity
    this._identity = ''
    this._room = null // { roomId | strRoomId } entered
    this._members = new Set()
    this._seq = new Map()
    this._lastSeq = new Map()
    this._cmdRate = new Bucket(30)
    this._cmdBytes = new Bucket(8 * 1024)
    this._queue = Promise.resolve()
    this._destroyed = false
    this._lost = false
  }

  on (event, listener) {
    if (!TRTC_EVENTS.has(event)) throw invalid('on', `unknown TRTCCloud event ${JSON.stringify(event)}`)
    if (typeof listener !== 'function') throw invalid('on', 'listener must be a function')
    let set = this._listeners.get(event)
    if (!set) this._listeners.set(event, (set = new Set()))
    set.add(listener)
    return this
  }

  off (event, listener) {
    const set = this._listeners.get(event)
    if (set) {
      set.delete(listener)
      for (const wrapped of set) if (wrapped._original === listener) set.delete(wrapped)
    }
    return this
  }

  once (event, listener) {
    const wrapped = (...args) => { this.off(event, wrapped); listener(...args) }
    wrapped._original = listener
    return this.on(event, wrapped)
  }

  removeListener (event, listener) { return this.off(event, listener) }

  removeAllListeners (event) {
    if (event === undefined) this._listeners.clear()
    else this._listeners.delete(event)
    return this
  }

  /** Emits now (call only from asynchronous contexts). */
  _emit (event, ...args) {
    const set = this._listeners.get(event)
    if (!set) return
    for (const fn of [...set]) {
      try {
        fn(...args)
      } catch (err) {
        listenerErrors++
        const warning = new Error(`a TRTCCloud ${event} listener threw: ${err && err.stack ? err.stack : err}`)
        warning.name = 'PiazzaListenerError'
        process.emitWarning(warning)
      }
    }
  }

  /** Emits on a later turn (never inside the call that caused it). */
  _later (event, ...args) {
    setImmediate(() => this._emit(event, ...args))
  }

  /** Runs room operations one after another, in call order. */
  _serial (task) {
    this._queue = this._queue.then(task, task).catch(() => {})
    return this._queue
  }

  _fail (code, message) {
    this._emit('onError', code, message)
  }

  _check (operation) {
    if (this._destroyed) throw invalid(operation, 'this TRTCCloud was destroyed')
  }

  /** Enters a room; the result arrives as onEnterRoom(ms > 0) or onEnterRoom(code < 0) + onError. */
  enterRoom (params, scene = TRTCAppScene.TRTCAppSceneVideoCall) {
    this._check('enterRoom')
    const started = Date.now()
    this._serial(async () => {
      const refuse = (code, message) => {
        this._emit('onError', code, message)
        this._emit('onEnterRoom', code)
      }
      if (!params || typeof params !== 'object') return refuse(TRTCErrorCode.ERR_ENTER_ROOM_PARAM_NULL, 'enterRoom needs params')
      const { sdkAppId, userId, userSig = '', roomId, strRoomId, role = TRTCRoleType.TRTCRoleAnchor } = params
      if (!Number.isInteger(sdkAppId) || sdkAppId <= 0) return refuse(TRTCErrorCode.ERR_SDK_APPID_INVALID, `sdkAppId ${sdkAppId} is not a positive integer`)
      if (typeof userId !== 'string' || userId === '') return refuse(TRTCErrorCode.ERR_USER_ID_INVALID, 'userId must be a non-empty string')
      const { room, error } = this._roomOf(params)
      if (error) return refuse(TRTCErrorCode.ERR_ROOM_ID_INVALID, error)
      if (typeof userSig !== 'string') return refuse(TRTCErrorCode.ERR_USER_SIG_INVALID, 'userSig must be a string')
      if (!ROLE_NAMES[role]) return refuse(TRTCErrorCode.ERR_ENTER_ROOM_PARAM_NULL, `role ${role} is not a TRTCRoleType`)
      if (!SCENE_NAMES[scene]) return refuse(TRTCErrorCode.ERR_ENTER_ROOM_PARAM_NULL, `scene ${scene} is not a TRTCAppScene`)
      if (this._room) await this._exit()
      try {
        await this._connect(String(sdkAppId), userId, userSig)
        const answer = await this._rtm._request('enterRoom', () => ({ op: 'enterRoom', room, role: ROLE_NAMES[role], scene: SCENE_NAMES[scene] }))
        this._room = { room, roomId, strRoomId }
        this._members = new Set(answer.members)
        this._lastSeq.clear()
        this._emit('onEnterRoom', Math.max(1, Date.now() - started))
        for (const user of answer.members) this._emit('onRemoteUserEnterRoom', user)
      } catch (err) {
        refuse(trtcCode(err), err.reason || err.message)
      }
    })
  }

  /** { roomId } or { strRoomId } → { room } (the wire room id), or { error } saying why not. */
  _roomOf (params) {
    const hasNum = params.roomId !== undefined && params.roomId !== 0 && params.roomId !== null
    const hasStr = params.strRoomId !== undefined && params.strRoomId !== '' && params.strRoomId !== null
    if (hasNum === hasStr) return { error: 'give exactly one of roomId and strRoomId' }
    if (hasNum) {
      const n = params.roomId
      return Number.isInteger(n) && n >= 1 && n <= 4294967294 ? { room: n } : { error: `roomId ${n} is not an integer in 1..4294967294` }
    }
    return typeof params.strRoomId === 'string' ? { room: params.strRoomId } : { error: 'strRoomId must be a string' }
  }

  /** Logs in as `userId` of `appId` (again, if the identity changed). */
  async _connect (appId, userId, userSig) {
    const identity = `${appId}\u0000${userId}\u0000${userSig}`
    if (this._rtm && this._identity === identity && this._rtm._native.linkState() === 'CONNECTED') return
    if (this._rtm) await this._rtm.logout().catch(() => {})
    const rtm = new RTM(appId, userId, this._options)
    rtm.addEventListener('linkState', (e) => this._onLink(e))
    rtm._onRoomEvent = (kind, body, data) => this._onRoomEvent(kind, body, data)
    this._rtm = rtm
    this._identity = identity
    await rtm.login({ token: userSig })
  }

  _onLink (e) {
    if (e.currentState === 'DISCONNECTED' && !this._lost) {
      this._lost = true
      this._emit('onConnectionLost')
      this._emit('onTryToReconnect')
    } else if (e.currentState === 'CONNECTED' && this._lost) {
      this._lost = false
      this._emit('onConnectionRecovery')
    } else if (e.currentState === 'FAILED' && this._room) {
      this._room = null
      this._members.clear()
      this._emit('onError', TRTCErrorCode.ERR_ROOM_ENTER_FAIL, `the connection to the server ended: ${e.reason} (${e.reasonCode})`)
      this._emit('onExitRoom', 1)
    }
  }

  _onRoomEvent (kind, body, data) {
    switch (kind) {
      case 'room':
        if (body.event === 'remoteEnter') {
          this._members.add(body.userId)
          this._emit('onRemoteUserEnterRoom', body.userId)
        } else if (body.event === 'remoteLeave') {
          this._members.delete(body.userId)
          for (const key of this._lastSeq.keys()) if (key.startsWith(`${body.userId}\u0000`)) this._lastSeq.delete(key)
          this._emit('onRemoteUserLeaveRoom', body.userId, body.reason)
        } else if (body.event === 'exit') {
          this._room = null
          this._members.clear()
          if (body.code) this._emit('onError', body.code, body.message)
          this._emit('onExitRoom', body.reason)
        }
        break
      case 'roomRestored': {
        // A reconnect that could not resume re-entered the room: report who came and went.
        const now = new Set(body.members)
        for (const user of this._members) if (!now.has(user)) this._emit('onRemoteUserLeaveRoom', user, 0)
        for (const user of now) if (!this._members.has(user)) this._emit('onRemoteUserEnterRoom', user)
        this._members = now
        break
      }
      case 'roomRestoreFailed':
        this._room = null
        this._members.clear()
        this._emit('onError', trtcCode({ errorCode: body.code }), body.reason)
        this._emit('onExitRoom', 1)
        break
      case 'cmd': {
        const key = `${body.userId}\u0000${body.cmdId}`
        const last = this._lastSeq.get(key)
        if (body.reliable && last !== undefined && body.seq > last + 1) {
          this._emit('onMissCustomCmdMsg', body.userId, body.cmdId, 0, body.seq - last - 1)
        }
        this._lastSeq.set(key, body.seq)
        this._emit('onRecvCustomCmdMsg', body.userId, body.cmdId, body.seq, data)
        break
      }
    }
  }

  async _exit () {
    const rtm = this._rtm
    if (rtm && this._room) await rtm._request('exitRoom', () => ({ op: 'exitRoom' })).catch(() => {})
    this._room = null
    this._members.clear()
    this._emit('onExitRoom', 0)
  }

  /** Leaves the room: the others hear onRemoteUserLeaveRoom(userId, 0) first, then onExitRoom(0). */
  exitRoom () {
    this._check('exitRoom')
    this._serial(() => this._exit())
  }

  /** Switches between anchor and audience (announced or retired in LIVE / VoiceChatRoom). */
  switchRole (role) {
    this._check('switchRole')
    this._serial(async () => {
      if (!ROLE_NAMES[role]) return this._emit('onSwitchRole', TRTCErrorCode.ERR_ENTER_ROOM_PARAM_NULL, `role ${role} is not a TRTCRoleType`)
      if (!this._room) return this._emit('onSwitchRole', TRTCErrorCode.ERR_NOT_IN_ROOM, 'switchRole needs a room')
      try {
        await this._rtm._request('switchRole', () => ({ op: 'switchRole', role: ROLE_NAMES[role] }))
        this._emit('onSwitchRole', 0, '')
      } catch (err) {
        this._emit('onSwitchRole', trtcCode(err), err.reason || err.message)
      }
    })
  }

  /** Leaves the current room and enters another ({ roomId | strRoomId, userSig? }). */
  switchRoom (params) {
    this._check('switchRoom')
    this._serial(async () => {
      if (!params || typeof params !== 'object') return this._emit('onSwitchRoom', TRTCErrorCode.ERR_ENTER_ROOM_PARAM_NULL, 'switchRoom needs params')
      const { room, error } = this._roomOf(params)
      if (error) return this._emit('onSwitchRoom', TRTCErrorCode.ERR_ROOM_ID_INVALID, error)
      if (!this._room) return this._emit('onSwitchRoom', TRTCErrorCode.ERR_NOT_IN_ROOM, 'switchRoom needs a room')
      try {
        const answer = await this._rtm._request('switchRoom', () => ({ op: 'switchRoom', room, token: params.userSig || undefined }))
        for (const user of this._members) this._emit('onRemoteUserLeaveRoom', user, 0)
        this._room = { room, roomId: params.roomId, strRoomId: params.strRoomId }
        this._members = new Set(answer.members)
        this._lastSeq.clear()
        this._emit('onSwitchRoom', 0, '')
        for (const user of answer.members) this._emit('onRemoteUserEnterRoom', user)
      } catch (err) {
        this._emit('onSwitchRoom', trtcCode(err), err.reason || err.message)
      }
    })
  }

  /**
   * Sends a custom message to everyone else in the room: cmdId 1–10, ≤ 1 KB, ≤ 30 per second
   * and 8 KB per second, `reliable` and `ordered` both true or both false. Returns false when it
   * refuses, true when sent.
   */
  sendCustomCmdMsg (cmdId, data, reliable, ordered) {
    if (this._destroyed || !this._room || !this._rtm) return false
    if (!Number.isInteger(cmdId) || cmdId < 1 || cmdId > 10) return false
    if (typeof reliable !== 'boolean' || reliable !== ordered) return false
    const size = typeof data === 'string' ? Buffer.byteLength(data) : (data instanceof Uint8Array ? data.length : -1)
    if (size < 0 || size > MAX_CMD_BYTES) return false
    if (!this._cmdRate.take() || !this._cmdBytes.take(size)) return false
    const seq = (this._seq.get(cmdId) || 0) + 1
    const frame = { op: 'customCmd', cmdId, seq, reliable, ordered, messageType: typeof data === 'string' ? 'STRING' : 'BINARY' }
    if (this._rtm._native.send(JSON.stringify(frame), data)) return false
    this._seq.set(cmdId, seq)
    return true
  }

  /** Exits the room if in one (announced to the others), then releases the connection. */
  destroy () {
    if (this._destroyed) return
    this._destroyed = true
    this._serial(async () => {
      // Leave the room politely, but do not wait out a request timeout for a server that went
      // away: the logout below ends the session (and the room membership) in any case.
      if (this._room) {
        let timer
        const patience = new Promise((resolve) => { timer = setTimeout(resolve, 1000); timer.unref() })
        await Promise.race([this._exit(), patience])
        clearTimeout(timer)
      }
      if (this._rtm) await this._rtm.logout().catch(() => {})
      this._rtm = null
    })
  }
}

/**
 * Makes a signed token (HS256 JWT) for an app backend: `{ appId, appCertificate, userId,
 * expireSeconds (1–86400), privileges? }`. Synchronous; throws RTMError on bad options.
 */
function generateToken (options) {
  if (options === null || typeof options !== 'object') throw invalid('generateToken', 'options must be an object')
  const { appId, appCertificate, userId, expireSeconds, privileges } = options
  if (typeof appId !== 'string' && typeof appId !== 'number') throw invalid('generateToken', 'appId must be a string')
  checkString('generateToken', appCertificate, 'appCertificate')
  checkString('generateToken', userId, 'userId')
  if (!Number.isInteger(expireSeconds) || expireSeconds < 1 || expireSeconds > 86400) {
    throw invalid('generateToken', `expireSeconds ${expireSeconds} is outside 1..86400`)
  }
  try {
    return native.generateToken(JSON.stringify({ appId: String(appId), appCertificate, userId, expireSeconds, privileges }))
  } catch (e) {
    throw fromNative('generateToken', e)
  }
}

module.exports = {
  generateToken,
  Server,
  RTM,
  RTMClient: RTM,
  RTMError,
  RTMStreamChannel,
  RTMPresence,
  RealtimeChannel,
  ErrorCode,
  TRTCErrorCode,
  TRTCCloud,
  TRTCAppScene,
  TRTCRoleType,
  PiazzaAdminError,
  ChannelType,
  MessageType,
  LinkState,
  PresenceEventType,
  TopicEventType,
  errorTable: () => ERROR_TABLE.map((e) => ({ ...e })),
  version: native.version(),
}
