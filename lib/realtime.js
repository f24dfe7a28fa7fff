'use strict'
// lib/realtime.js: RealtimeChannel (webxdc joinRealtimeChannel): best-effort datagrams to the
// members of a scope connected now. RTM.joinRealtimeChannel creates and registers it, and its
// drain delivers the incoming data to `_listener`; sending and leaving go through the client's
// internal interface, rtm[LINK] (lib/link.js).

const { ErrorCode, fromNative, invalid } = require('./errors')
const { LINK } = require('./link')

/** Largest realtime datagram, in bytes. */
const MAX_REALTIME_BYTES = 128000

class RealtimeChannel {
  constructor (rtm, scope) {
    this._rtm = rtm
    this.scope = scope
    this._listener = null
    this._left = false
    /** Called with the RTMError when the join is refused (lib/webxdc.js); null: a warning. */
    this._onRefused = null
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
    const refused = this._rtm[LINK].realtimeSend(this.scope, data)
    if (refused) throw fromNative('send', refused)
  }

  /** Leaves; the object is unusable afterwards. */
  leave () {
    this._check('leave')
    this._left = true
    this._listener = null
    const link = this._rtm[LINK]
    link.forgetRealtime(this.scope, this)
    link.request('leaveRealtimeChannel', (native, tag) => native.realtimeLeave(tag, this.scope)).catch(() => {})
  }

  /**
   * The join was refused (by RTM.joinRealtimeChannel): the channel is left. `_onRefused(err)`
   * (set by lib/webxdc.js) hears of it; without it, a warning tells.
   */
  _refused (err) {
    this._rtm[LINK].forgetRealtime(this.scope, this)
    this._left = true
    this._listener = null
    if (this._onRefused) return this._onRefused(err)
    if (err.errorCode === ErrorCode.RTM_ERROR_NOT_LOGIN) return // logged out meanwhile: nothing to report
    const warning = new Error(`joining realtime channel ${JSON.stringify(this.scope)} failed: ${err.message}`)
    warning.name = 'PiazzaRealtimeError'
    process.emitWarning(warning)
  }
}

module.exports = { RealtimeChannel, MAX_REALTIME_BYTES }
