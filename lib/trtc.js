'use strict'
// lib/trtc.js: TRTCCloud (trtc-electron-sdk shape): TRTC rooms over Piazza, with its enums
// (TRTCAppScene, TRTCRoleType).
//
// The room client runs in the engine (crates/engine/src/client/trtc.rs, through NativeTrtc in
// src/trtc.rs): the client per identity, the queue of operations, the member list, exit
// reasons, reconnects, custom messages with their limits and sequence numbers. This module
// keeps the public API: it checks what is about JavaScript types (a missing params, a
// non-integer sdkAppId, a role that is not 20 or 21…; such a refusal is reported through the
// native queue, so it keeps its place among the calls), hands the rest to NativeTrtc, and
// emits what comes back: each batch entry is a callback with its arguments,
// `['onExitRoom', 1]`, dispatched as `emit('onExitRoom', 1)` on the wake-up that brought it
// (never inside the call that caused it). It holds the process alive from a call until the
// native side is idle (nothing queued, no client logged in, nothing left to deliver).

const native = require('./native')
const { TRTCErrorCode, fromNative, invalid } = require('./errors')
const { holdFinalizer, Hold, safeCall } = require('./keepalive')

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

/** { roomId } or { strRoomId } → { roomId, strRoomId } for NativeTrtc (0 / '' = not given), or { error }. */
function roomOf (params) {
  const hasNum = params.roomId !== undefined && params.roomId !== 0 && params.roomId !== null
  const hasStr = params.strRoomId !== undefined && params.strRoomId !== '' && params.strRoomId !== null
  if (hasNum === hasStr) return { error: 'give exactly one of roomId and strRoomId' }
  if (hasNum) {
    const n = params.roomId
    return Number.isInteger(n) && n >= 1 && n <= 4294967294 ? { roomId: n, strRoomId: '' } : { error: `roomId ${n} is not an integer in 1..4294967294` }
  }
  return typeof params.strRoomId === 'string' ? { roomId: 0, strRoomId: params.strRoomId } : { error: 'strRoomId must be a string' }
}

/** Why enterRoom(params, scene) is refused, as [code, message], or null. */
function enterRefusal (params, scene) {
  if (!params || typeof params !== 'object') return [TRTCErrorCode.ERR_ENTER_ROOM_PARAM_NULL, 'enterRoom needs params']
  const { sdkAppId, userId, userSig = '', role = TRTCRoleType.TRTCRoleAnchor } = params
  if (!Number.isInteger(sdkAppId) || sdkAppId <= 0) return [TRTCErrorCode.ERR_SDK_APPID_INVALID, `sdkAppId ${sdkAppId} is not a positive integer`]
  if (typeof userId !== 'string' || userId === '') return [TRTCErrorCode.ERR_USER_ID_INVALID, 'userId must be a non-empty string']
  const { error } = roomOf(params)
  if (error) return [TRTCErrorCode.ERR_ROOM_ID_INVALID, error]
  if (typeof userSig !== 'string') return [TRTCErrorCode.ERR_USER_SIG_INVALID, 'userSig must be a string']
  if (!ROLE_NAMES[role]) return [TRTCErrorCode.ERR_ENTER_ROOM_PARAM_NULL, `role ${role} is not a TRTCRoleType`]
  if (!SCENE_NAMES[scene]) return [TRTCErrorCode.ERR_ENTER_ROOM_PARAM_NULL, `scene ${scene} is not a TRTCAppScene`]
  return null
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
    this._listeners = new Map()
    this._destroyed = false
    // Held from a call until the native side is idle (see _drain).
    this._hold = new Hold()
    const self = new WeakRef(this)
    try {
      this._native = new native.NativeTrtc(JSON.stringify({ ...options, kind: 'trtc' }), () => {
        const trtc = self.deref()
        if (trtc) trtc._drain()
      })
    } catch (e) {
      throw fromNative('TRTCCloud', e)
    }
    holdFinalizer.register(this, this._hold)
    /** For tests: `_seq.set(cmdId, seq)` sends the next custom message of cmdId with seq + 1. */
    this._seq = Object.freeze({ set: (cmdId, seq) => { this._native.continueSeq(cmdId, seq); return this._seq } })
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

  /** Emits now (called only from _drain, never inside a call). */
  _emit (event, ...args) {
    const set = this._listeners.get(event)
    if (!set) return
    // An exception is reported as 'a TRTCCloud <event> listener threw: …' and counted.
    for (const fn of [...set]) safeCall((a) => fn(...a), args, `TRTCCloud ${event}`)
  }

  /** Dispatches one native batch: ['callback', …args] entries; ['idle'] only wakes. */
  _drain () {
    const batch = this._native.drain()
    const entries = JSON.parse(batch.json)
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]
      if (entry[0] === 'idle') continue
      if (entry[0] === 'onRecvCustomCmdMsg' && entry.length > 5) {
        // Binary data: [.., seq, offset, length] into the batch's buffer.
        const bin = batch.bin
        this._emit(entry[0], entry[1], entry[2], entry[3], new Uint8Array(bin.buffer, bin.byteOffset + entry[4], entry[5]))
      } else {
        this._emit(...entry)
      }
    }
    if (this._native.idle()) this._hold.release()
  }

  /** Queues a native call, holding the process until the native side is idle again. */
  _queue (operation, call) {
    if (this._destroyed) throw invalid(operation, 'this TRTCCloud was destroyed')
    this._hold.acquire()
    try {
      call()
    } finally {
      if (this._native.idle()) this._hold.release()
    }
  }

  /** Enters a room; the result arrives as onEnterRoom(ms > 0) or onEnterRoom(code < 0) + onError. */
  enterRoom (params, scene = TRTCAppScene.TRTCAppSceneVideoCall) {
    this._queue('enterRoom', () => {
      const refusal = enterRefusal(params, scene)
      if (refusal) return this._native.refuse('enterRoom', refusal[0], refusal[1])
      const { sdkAppId, userId, userSig = '', role = TRTCRoleType.TRTCRoleAnchor } = params
      const { roomId, strRoomId } = roomOf(params)
      this._native.enterRoom({ sdkAppId, userId, userSig, roomId, strRoomId, role: Number(role) }, Number(scene))
    })
  }

  /** Leaves the room: the others hear onRemoteUserLeaveRoom(userId, 0) first, then onExitRoom(0). */
  exitRoom () {
    this._queue('exitRoom', () => this._native.exitRoom())
  }

  /** Switches between anchor and audience (announced or retired in LIVE / VoiceChatRoom). */
  switchRole (role) {
    this._queue('switchRole', () => {
      if (!ROLE_NAMES[role]) return this._native.refuse('switchRole', TRTCErrorCode.ERR_ENTER_ROOM_PARAM_NULL, `role ${role} is not a TRTCRoleType`)
      this._native.switchRole(Number(role))
    })
  }

  /** Leaves the current room and enters another ({ roomId | strRoomId, userSig? }). */
  switchRoom (params) {
    this._queue('switchRoom', () => {
      if (!params || typeof params !== 'object') return this._native.refuse('switchRoom', TRTCErrorCode.ERR_ENTER_ROOM_PARAM_NULL, 'switchRoom needs params')
      const { roomId, strRoomId, error } = roomOf(params)
      if (error) return this._native.refuse('switchRoom', TRTCErrorCode.ERR_ROOM_ID_INVALID, error)
      const userSig = params.userSig || ''
      if (typeof userSig !== 'string') return this._native.refuse('switchRoom', TRTCErrorCode.ERR_USER_SIG_INVALID, 'userSig must be a string')
      this._native.switchRoom(roomId, strRoomId, userSig)
    })
  }

  /**
   * Sends a custom message to everyone else in the room: cmdId 1–10, ≤ 1 KB, ≤ 30 per second
   * and 8 KB per second, `reliable` and `ordered` both true or both false. Returns false when it
   * refuses, true when sent.
   */
  sendCustomCmdMsg (cmdId, data, reliable, ordered) {
    if (this._destroyed || !Number.isInteger(cmdId)) return false
    if (typeof reliable !== 'boolean' || reliable !== ordered) return false
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) return false
    return this._native.sendCustomCmdMsg(cmdId, data, reliable, ordered)
  }

  /** Exits the room if in one (announced to the others), then releases the connection. */
  destroy () {
    if (this._destroyed) return
    this._queue('destroy', () => this._native.destroy())
    this._destroyed = true
  }
}

module.exports = { TRTCCloud, TRTCAppScene, TRTCRoleType }
