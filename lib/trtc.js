'use strict'
// lib/trtc.js: TRTCCloud (trtc-electron-sdk shape): TRTC rooms over Piazza, with its enums
// (TRTCAppScene, TRTCRoleType) and parameter classes (TRTCParams, TRTCSwitchRoomParam).
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
//
// TRTCCloud is a Node EventEmitter, as the SDK's (`declare class TRTCCloud extends
// EventEmitter`): any name may be registered (lib/trtc-callbacks.js lists the SDK's and those
// that fire), `events.once` / `events.on` work. It never emits 'error' (errors are onError),
// and an 'error' emitted with no listener is dropped instead of thrown.

const EventEmitter = require('events')
const native = require('./native')
const { TRTCErrorCode, fromNative, invalid } = require('./errors')
const { holdFinalizer, Hold, safeCall } = require('./keepalive')

const TRTCAppScene = Object.freeze({
  TRTCAppSceneVideoCall: 0, TRTCAppSceneLIVE: 1, TRTCAppSceneAudioCall: 2, TRTCAppSceneVoiceChatRoom: 3,
})
const TRTCRoleType = Object.freeze({ TRTCRoleAnchor: 20, TRTCRoleAudience: 21 })
const SCENE_NAMES = ['videoCall', 'live', 'audioCall', 'voiceChatRoom']
const ROLE_NAMES = { 20: 'anchor', 21: 'audience' }
/** Piazza's onWarning codes (TRTC has none for these); docs/ERRORS.md lists them. */
const TRTCWarningCode = Object.freeze({ WARNING_USER_SIG_WILL_EXPIRE: 9001 })

/** trtc-electron-sdk's TRTCParams: the enterRoom parameters, with the SDK's defaults. */
class TRTCParams {
  constructor (sdkAppId = 0, userId = '', userSig = '', roomId = 0, strRoomId = '', role = TRTCRoleType.TRTCRoleAnchor,
    privateMapKey = null, businessInfo = null, streamId = null, userDefineRecordId = null) {
    Object.assign(this, { sdkAppId, userId, userSig, roomId, strRoomId, role, privateMapKey, businessInfo, streamId, userDefineRecordId })
  }
}

/** trtc-electron-sdk's TRTCSwitchRoomParam: the switchRoom parameters. */
class TRTCSwitchRoomParam {
  constructor (roomId = 0, strRoomId = '', userSig = '', privateMapKey = '') {
    Object.assign(this, { roomId, strRoomId, userSig, privateMapKey })
  }
}

/**
 * { roomId } or { strRoomId } → { roomId, strRoomId } for NativeTrtc (0 / '' = not given), or
 * { error }. With both, roomId wins (TRTCParams: "若两者都填，则优先选择 roomId"); the
 * characters of a strRoomId are checked by the engine (names::str_room_id).
 */
function roomOf (params) {
  const hasNum = params.roomId !== undefined && params.roomId !== 0 && params.roomId !== null
  const hasStr = params.strRoomId !== undefined && params.strRoomId !== '' && params.strRoomId !== null
  if (!hasNum && !hasStr) return { error: 'give roomId or strRoomId' }
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

/** The instance of getTRTCShareInstance, until destroyTRTCShareInstance. */
let shared = null

/**
 * TRTC rooms over Piazza: enter/exit with exit reasons, roles and scenes, custom messages.
 * An EventEmitter; every event is emitted asynchronously.
 */
class TRTCCloud extends EventEmitter {
  /**
   * @param {{ endpoint?: string, presenceTimeout?: number, heartbeatInterval?: number, logLevel?: string, privateConfig?: object }} [options]
   *   also the SDK's TRTCInitConfig (`networkProxy`, `isIPCMode`: accepted, without effect)
   */
  constructor (options = {}) {
    super()
    if (options === undefined || options === null) options = {}
    if (typeof options !== 'object') throw invalid('TRTCCloud', 'options must be an object')
    const { networkProxy, isIPCMode, ...rest } = options
    options = rest
    const { presenceTimeout } = options
    if (presenceTimeout !== undefined && (!Number.isInteger(presenceTimeout) || presenceTimeout < 5 || presenceTimeout > 300)) {
      throw invalid('TRTCCloud', `presenceTimeout ${presenceTimeout} is outside [5, 300] seconds`)
    }
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

  /** The shared instance (created with `config` the first time, or after destroyTRTCShareInstance). */
  static getTRTCShareInstance (config) {
    if (!shared || shared._destroyed) shared = new TRTCCloud(config)
    return shared
  }

  /** Destroys the shared instance (exits its room, announced); the next getTRTCShareInstance makes a new one. */
  static destroyTRTCShareInstance () {
    const instance = shared
    shared = null
    if (instance) instance.destroy()
  }

  /** EventEmitter's emit, except that an 'error' nobody listens for is dropped, not thrown. */
  emit (event, ...args) {
    if (event === 'error' && this.listenerCount('error') === 0) return false
    return super.emit(event, ...args)
  }

  /** Emits now (called only from _drain, never inside a call). */
  _emit (event, ...args) {
    // An exception is reported as 'a TRTCCloud <event> listener threw: …' and counted; the
    // other listeners still run. rawListeners: a once() wrapper removes itself when called.
    for (const fn of this.rawListeners(event)) safeCall((a) => fn.apply(this, a), args, `TRTCCloud ${event}`)
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

  /**
   * Replaces the userSig of the session without leaving the room (Piazza; TRTC has no such
   * call): answers onWarning(WARNING_USER_SIG_WILL_EXPIRE). Queued like the other calls; a
   * refused one is onError(ERR_USER_SIG_INVALID, …). Without a session it does nothing.
   */
  renewUserSig (userSig) {
    if (typeof userSig !== 'string' || userSig === '') throw invalid('renewUserSig', 'userSig must be a non-empty string')
    this._queue('renewUserSig', () => this._native.renewUserSig(userSig))
  }

  /** Exits the room if in one (announced to the others), then releases the connection. */
  destroy () {
    if (this._destroyed) return
    this._queue('destroy', () => this._native.destroy())
    this._destroyed = true
  }
}

module.exports = { TRTCCloud, TRTCAppScene, TRTCRoleType, TRTCParams, TRTCSwitchRoomParam, TRTCWarningCode }
