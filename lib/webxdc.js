'use strict'
// lib/webxdc.js: createWebxdc(rtm, scope, options), the `window.webxdc` object of a webxdc app
// as far as realtime goes (https://webxdc.org/docs/spec/joinRealtimeChannel.html), over one RTM
// client and one realtime scope (lib/realtime.js). Exported as `piazza-rtc/webxdc`
// (webxdc.js / webxdc.mjs / webxdc.d.ts at the package root).
//
// - `selfAddr` / `selfName`: the RTM user id (`options.selfName` may give another name).
// - `joinRealtimeChannel()` (no argument: the scope is the app's): a second call without
//   `leave()` throws; `setListener` replaces the previous listener; `send` takes a Uint8Array
//   of at most 128000 bytes (more throws); after `leave()` the channel throws on any use and
//   `joinRealtimeChannel()` works again.
// - A refused join (no privilege for the scope, not logged in, logged out meanwhile) never
//   throws out of joinRealtimeChannel: it is reported through `options.onError(err, channel)`
//   and the channel's `error` (an RTMError); the channel is then dead (send and setListener
//   throw that error; leave() once is allowed) and a new join may be tried at once.
// - Not realtime: sendUpdate throws, setUpdateListener / getAllUpdates / sendToChat /
//   importFiles reject, each with an RTMError (RTM_ERROR_SERVICE_NOT_SUPPORTED) naming the method;
//   sendUpdateInterval / sendUpdateMaxSize are absent.

const { ErrorCode, RTMError, invalid } = require('./errors')
const { RTM } = require('./rtm')

const { MAX_REALTIME_BYTES } = require('./realtime')

/** The parts of window.webxdc that are not realtime: Piazza refuses them. */
const NOT_REALTIME = ['sendUpdate', 'setUpdateListener', 'getAllUpdates', 'sendToChat', 'importFiles']

function notSupported (method) {
  return invalid(method, `webxdc.${method} is not supported by Piazza: only the realtime API (joinRealtimeChannel) is`,
    ErrorCode.RTM_ERROR_SERVICE_NOT_SUPPORTED)
}

function reportListenerError (err, what) {
  const warning = new Error(`a webxdc ${what} threw: ${err && err.stack ? err.stack : err}`)
  warning.name = 'PiazzaListenerError'
  process.emitWarning(warning)
}

/** The channel `joinRealtimeChannel()` returns (webxdc's RealtimeListener). */
class WebxdcRealtimeChannel {
  constructor (owner, inner) {
    this._owner = owner
    this._inner = inner
    this._left = false
    /** The RTMError that refused the join, or null. */
    this.error = null
  }

  _check (operation) {
    if (this._left) throw invalid(operation, 'this realtime channel was left; call webxdc.joinRealtimeChannel() again', ErrorCode.RTM_ERROR_CHANNEL_NOT_JOINED)
    if (this.error) throw this.error
  }

  /** Sets the receiver of the peers' data (Uint8Array); a second call replaces the first. */
  setListener (listener) {
    this._check('setListener')
    if (listener !== null && typeof listener !== 'function') throw invalid('setListener', 'listener must be a function')
    this._inner.setListener(listener)
  }

  /** Sends a Uint8Array of at most 128000 bytes to the peers connected now (best effort). */
  send (data) {
    this._check('send')
    this._inner.send(data) // checks the type and the size (lib/realtime.js: one definition)
  }

  /** Leaves; the channel is invalid afterwards, and joinRealtimeChannel() may be called again. */
  leave () {
    if (this._left) this._check('leave')
    this._left = true
    if (this._owner._current === this) this._owner._current = null
    if (!this.error && this._inner) this._inner.leave()
  }

  /** The join was refused: the channel is dead and the slot free; then `_report(err)`. */
  _refuse (err) {
    if (this._left || this.error) return false
    this.error = err
    if (this._owner._current === this) this._owner._current = null
    return true
  }

  /** Tells the app (options.onError), or warns when it gave no onError. */
  _report (err) {
    const onError = this._owner._onError
    if (onError) {
      try {
        onError(err, this)
      } catch (e) {
        reportListenerError(e, 'onError callback')
      }
    } else {
      const warning = new Error(`webxdc: joining realtime channel ${JSON.stringify(this._owner._scope)} failed: ${err.message}`)
      warning.name = 'PiazzaRealtimeError'
      process.emitWarning(warning)
    }
  }
}

/**
 * The realtime part of `window.webxdc` over `rtm` (logged in when joining) and `scope`.
 * @param {RTM} rtm
 * @param {string} scope the realtime scope of this app instance (its peers use the same)
 * @param {{ selfName?: string, onError?: (err: RTMError, channel: WebxdcRealtimeChannel) => void }} [options]
 */
function createWebxdc (rtm, scope, options = {}) {
  const op = 'createWebxdc'
  if (!(rtm instanceof RTM)) throw invalid(op, 'rtm must be an RTM client')
  if (typeof scope !== 'string' || scope === '') throw invalid(op, 'scope must be a non-empty string')
  if (options === null || typeof options !== 'object') throw invalid(op, 'options must be an object')
  if (options.selfName !== undefined && typeof options.selfName !== 'string') throw invalid(op, 'options.selfName must be a string')
  if (options.onError !== undefined && typeof options.onError !== 'function') throw invalid(op, 'options.onError must be a function')

  const state = { _scope: scope, _onError: options.onError || null, _current: null }
  const webxdc = {
    selfAddr: rtm.userId,
    selfName: options.selfName === undefined ? rtm.userId : options.selfName,
    /**
     * Joins this app's realtime channel. Throws if the previous channel was not left; a refused
     * join is reported through options.onError and the channel's `error`.
     */
    joinRealtimeChannel () {
      if (arguments.length > 0) throw invalid('joinRealtimeChannel', 'joinRealtimeChannel takes no argument: the scope is given to createWebxdc')
      if (state._current) {
        throw invalid('joinRealtimeChannel', 'the realtime channel is already joined; leave() it first', ErrorCode.RTM_ERROR_DUPLICATE_OPERATION)
      }
      let inner = null
      let refusal = null
      try {
        inner = rtm.joinRealtimeChannel(scope)
      } catch (err) {
        // The scope joined on this client by someone else is a second join, as webxdc has it.
        if (err instanceof RTMError && err.errorCode === ErrorCode.RTM_ERROR_DUPLICATE_OPERATION) throw err
        if (!(err instanceof RTMError)) throw err
        refusal = err
      }
      const channel = new WebxdcRealtimeChannel(state, inner)
      state._current = channel
      if (inner) {
        inner._onRefused = (err) => { if (channel._refuse(err)) channel._report(err) }
      } else {
        // Refused at once (e.g. not logged in): the channel is dead now, the report follows
        // (the caller holds the channel by then).
        channel._refuse(refusal)
        queueMicrotask(() => channel._report(refusal))
      }
      return channel
    },
  }
  for (const method of NOT_REALTIME) {
    webxdc[method] = method === 'sendUpdate'
      ? () => { throw notSupported(method) }
      : () => Promise.reject(notSupported(method))
  }
  return webxdc
}

module.exports = { createWebxdc, WebxdcRealtimeChannel, MAX_REALTIME_BYTES, NOT_REALTIME }
