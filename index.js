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
const ErrorCode = Object.freeze(Object.fromEntries(ERROR_TABLE.map((e) => [e.name, e.code])))
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
  'message', 'presence', 'topic', 'storage', 'lock', 'linkState', 'token', 'tokenPrivilegeWillExpire', 'status',
])

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
function holdProcess () {
  if (keepAliveCount++ === 0) keepAliveTimer = setInterval(() => {}, 1 << 30)
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

module.exports = {
  Server,
  RTM,
  RTMClient: RTM,
  RTMError,
  ErrorCode,
  ChannelType,
  MessageType,
  LinkState,
  PresenceEventType,
  TopicEventType,
  errorTable: () => ERROR_TABLE.map((e) => ({ ...e })),
  version: native.version(),
}
