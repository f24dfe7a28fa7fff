'use strict'
// lib/rtm.js: RTM, the client (agora-rtm-sdk 2.x `RTM` shape) over the native client.
//
// It owns the request machinery (tags, pending promises, the keep-alive holds) and the event
// path: the engine wakes the client, `_drain` takes the native batches (one JSON.parse each)
// until none is left and hands each entry to the pending request, the listeners, a realtime
// channel or the TRTC room subscriber. The objects built on a client (presence, stream and
// realtime channels, TRTCCloud) use it only through `rtm[LINK]` (see makeLink below and
// lib/link.js).

const { EventEmitter } = require('node:events')
const native = require('./native')
const { ERROR_NAMES, ErrorCode, RTMError, fromNative, invalid, checkString, checkOptions, checkPayload, bool } = require('./errors')
const { holdFinalizer, Hold, safeCall, listenerErrorCount } = require('./keepalive')
const { LINK } = require('./link')
const { RTMPresence } = require('./presence')
const { RTMStorage } = require('./storage')
const { RTMLock } = require('./lock')
const { RTMHistory } = require('./history')
const { RTMStreamChannel } = require('./stream')
const { RealtimeChannel } = require('./realtime')

const RTM_EVENT_TYPES = new Set([
  'message', 'presence', 'topic', 'storage', 'lock', 'linkState', 'token', 'tokenPrivilegeWillExpire', 'status', 'error',
])
const ENCRYPTION_MODES = new Set(['NONE', 'AES_128_GCM', 'AES_256_GCM'])

/**
 * Warns about an rtmConfig key that is no option (a typo such as `presenceTimout`): it has no
 * effect. The SDK's options that do not apply here are ignored by name without a warning
 * (IGNORED_RTM_OPTIONS in crates/engine/src/client/config.rs; README.md#rtm-client).
 */
function warnUnknownOption (key) {
  process.emitWarning(`rtmConfig: unknown option ${JSON.stringify(key)} ignored (not a Piazza option, nor an agora-rtm-sdk one)`, {
    type: 'PiazzaConfigWarning', code: 'PIAZZA_UNKNOWN_OPTION',
  })
}

/** Native batches one wake-up dispatches at most before it yields to the event loop. */
const MAX_TAKES = 16

/** Reports an exception that escaped the dispatch of an event (listeners' own are caught). */
function dispatchError (err) {
  const warning = new Error(`dispatching an event threw: ${err && err.stack ? err.stack : err}`)
  warning.name = 'PiazzaDispatchError'
  process.emitWarning(warning)
}

const STATUS_OF_LINK = {
  IDLE: 'DISCONNECTED', CONNECTING: 'CONNECTING', CONNECTED: 'CONNECTED',
  DISCONNECTED: 'RECONNECTING', SUSPENDED: 'RECONNECTING', FAILED: 'FAILED',
}

/**
 * The internal interface of a client (`rtm[LINK]`, see lib/link.js) for RTMPresence, RTMStorage,
 * RTMLock, RTMHistory, RTMStreamChannel and RealtimeChannel (rooms run in the engine,
 * lib/trtc.js). Frozen; nothing else of the client's private state is for them.
 */
function makeLink (rtm) {
  return Object.freeze({
    /**
     * Sends a request and resolves with its answer (rejects with an RTMError).
     * `submit(native, tag)` checks the arguments and calls the typed native method of the
     * operation (`native.whoNow(tag, …)`), returning what it returns (null, or the JSON of
     * the error that refused it); it is called inside, so a check it throws rejects the
     * promise.
     */
    request (operation, submit) {
      return rtm._request(operation, submit)
    },
    /** Sends a realtime datagram to `scope` (best effort). Returns null or the native error JSON. */
    realtimeSend (scope, data) {
      return rtm._native.realtimeSend(scope, data)
    },
    /** The current link state: 'IDLE', 'CONNECTING', 'CONNECTED', 'DISCONNECTED', 'SUSPENDED' or 'FAILED'. */
    linkState () {
      return rtm._native.linkState()
    },
    /** Forgets the realtime channel of `scope` if it is `channel` (it was left, or refused). */
    forgetRealtime (scope, channel) {
      if (rtm._realtime.get(scope) === channel) rtm._realtime.delete(scope)
    },
  })
}

/**
 * The RTM client. Like agora-rtm-sdk's RTMClient it is an EventEmitter (`on`, `off`, `once`,
 * `listenerCount`, `events.once(rtm, 'linkState')`, …) and keeps `addEventListener` /
 * `removeEventListener` ({ once, signal }). Events are not sent with EventEmitter#emit but by
 * `_emit`: every listener is called even when one throws (reported with process.emitWarning and
 * counted), and an `error` event without a listener is a warning, never an exception.
 */
class RTM extends EventEmitter {
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
    super()
    this.appId = appId
    this.userId = userId
    this._pending = new Map()
    this._realtime = new Map()
    Object.defineProperty(this, LINK, { value: makeLink(this) })
    /** Presence queries and temporary states (RTM `rtm.presence`). */
    this.presence = new RTMPresence(this)
    /** Channel and user metadata (RTM `rtm.storage`). */
    this.storage = new RTMStorage(this)
    /** Distributed locks of channels (RTM `rtm.lock`). */
    this.lock = new RTMLock(this)
    /** Stored messages (RTM `rtm.history`). */
    this.history = new RTMHistory(this)
    this._nextTag = 1
    /** Whether _drain runs (a listener called back into it). */
    this._draining = false
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
    for (const key of this._native.unknownOptions()) warnUnknownOption(key)
    holdFinalizer.register(this, this._hold)
    holdFinalizer.register(this, this._pendingHold)
  }

  /**
   * Adds `listener` for a client event (a known event name only). DOM-like: the same listener
   * is added once; `options.once` removes it after its first call, `options.signal` (an
   * AbortSignal) removes it on abort.
   */
  addEventListener (eventName, listener, options) {
    if (!RTM_EVENT_TYPES.has(eventName)) throw invalid('addEventListener', `unknown event type ${JSON.stringify(eventName)}`)
    if (typeof listener !== 'function') throw invalid('addEventListener', 'listener must be a function')
    const o = options !== null && typeof options === 'object' ? options : {}
    const signal = o.signal
    if (signal !== undefined && (signal === null || typeof signal.addEventListener !== 'function' || typeof signal.aborted !== 'boolean')) {
      throw invalid('addEventListener', 'options.signal must be an AbortSignal')
    }
    if (signal && signal.aborted) return
    if (this.listeners(eventName).includes(listener)) return
    if (o.once) this.once(eventName, listener)
    else this.on(eventName, listener)
    if (signal) signal.addEventListener('abort', () => this.removeListener(eventName, listener), { once: true })
  }

  removeEventListener (eventName, listener) {
    this.removeListener(eventName, listener)
  }

  /** Number of exceptions thrown by listeners of any client (each reported with emitWarning). */
  static get listenerErrorCount () { return listenerErrorCount() }

  /**
   * Calls the listeners of `eventName` registered now (one added or removed by a listener takes
   * effect from the next event); one that throws is reported and the others still run.
   */
  _emit (eventName, payload) {
    // EventEmitter keeps one listener as the function itself, more as an array (copied here:
    // a listener may remove itself, or others, while it runs).
    const listeners = this._events[eventName]
    if (listeners === undefined) return
    if (typeof listeners === 'function') {
      safeCall(listeners, payload, eventName, this)
      return
    }
    for (const fn of listeners.slice()) safeCall(fn, payload, eventName, this)
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

  /**
   * Takes the native batches and dispatches them until a take comes back empty (see src/sink.rs
   * for the entry shapes and the wake-ups). Called by the engine's wake-up; nothing polls. A
   * call from inside a listener of this client returns at once: the running drain takes again
   * before it returns, so a later batch never overtakes the rest of the current one. After
   * MAX_TAKES takes it yields to the event loop anyway: the last take re-armed the wake-up, so
   * whatever came since has a wake-up queued.
   */
  _drain () {
    if (this._draining) return
    this._draining = true
    try {
      let takes = 0
      while (takes++ < MAX_TAKES && this._dispatchBatch()) { /* until a take comes back empty */ }
    } finally {
      this._draining = false
    }
  }

  /** Takes one native batch and dispatches it; false when it was empty. */
  _dispatchBatch () {
    const batch = this._native.drain()
    if (batch.json.length <= 2) return false
    const entries = JSON.parse(batch.json)
    const bin = batch.bin
    const settled = this._pending.size > 0
    // The string table of the message entries, when there are any, comes last (src/sink.rs).
    let end = entries.length
    const last = entries[end - 1]
    const strings = last[0] === 'S' ? last : null
    if (strings !== null) end--
    // An exception costs its own entry only: the rest of the batch is still dispatched.
    let i = 0
    while (i < end) {
      try {
        for (; i < end; i++) {
          const entry = entries[i]
          if (entry[0] === 'm') this._emitMessage(entry, strings, bin)
          else this._dispatch(entry, bin)
        }
      } catch (err) {
        i++
        dispatchError(err)
      }
    }
    if (settled && this._pending.size === 0) this._pendingHold.release()
    return true
  }

  /** A message event from an `m` entry and the batch's string table (the RTM `MessageEvent` shape). */
  _emitMessage (e, s, bin) {
    const event = {
      channelType: s[e[1]],
      channelName: s[e[2]],
      topicName: s[e[3]],
      messageType: s[e[4]],
      customType: s[e[5]],
      publisher: s[e[6]],
      timestamp: e[7],
      message: e.length > 9 ? new Uint8Array(bin.buffer, bin.byteOffset + e[9], e[10]) : e[8]
    }
    this._emit('message', event)
  }

  /** Dispatches one entry of a batch. */
  _dispatch (entry, bin) {
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
        if (this.listenerCount('error') > 0) {
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
      default:
        this._emit(entry[0], entry[1])
    }
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
    return this._request('renewToken', (native, tag) => {
      checkString('renewToken', token, 'token')
      const o = checkOptions('renewToken', options)
      if (o.channelName !== undefined) checkString('renewToken', o.channelName, 'channelName')
      return native.renewToken(tag, token, o.channelName || undefined)
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

  /** Sends a request through `submit(native, tag)` (see `request` of the internal interface). */
  _request (operation, submit) {
    return this._call(operation, (tag) => submit(this._native, tag))
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
    this._request(op, (native, tag) => native.realtimeJoin(tag, scope)).catch((err) => channel._refused(err))
    return channel
  }

  /**
   * Publishes a string or bytes (Uint8Array, ArrayBuffer) to a message channel, or to a user
   * (channelType 'USER'); `storeInHistory: true` keeps it for `rtm.history.getMessages`.
   */
  publish (channelName, message, options) {
    return this._call('publish', (tag) => {
      checkString('publish', channelName, 'channelName')
      const payload = checkPayload('publish', message)
      const o = checkOptions('publish', options)
      const channelType = o.channelType === undefined ? 'MESSAGE' : o.channelType
      if (channelType !== 'MESSAGE' && channelType !== 'USER') {
        throw invalid('publish', `channelType must be 'MESSAGE' or 'USER', got ${JSON.stringify(channelType)}`, ErrorCode.RTM_ERROR_INVALID_CHANNEL_TYPE)
      }
      const customType = o.customType === undefined ? '' : o.customType
      checkString('publish', customType, 'customType')
      return this._native.publish(tag, channelName, payload, customType, channelType, bool(o.storeInHistory, false))
    })
  }
}

module.exports = { RTM }
