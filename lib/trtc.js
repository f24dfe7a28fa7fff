'use strict'
// lib/trtc.js: TRTCCloud (trtc-electron-sdk shape): TRTC rooms over Piazza, with its enums
// (TRTCAppScene, TRTCRoleType) and the rate limit (Bucket) of custom messages.
//
// A TRTCCloud logs in one RTM client per identity (sdkAppId, userId, userSig) and runs the room
// protocol over it through the client's internal interface, rtm[LINK] (lib/link.js): requests
// (enterRoom, exitRoom, switchRole, switchRoom), frames without answers (customCmd), the link
// state, and the room events (onRoomEvent). Nothing else of the client is touched.

const native = require('./native')
const { ERROR_NAMES, ErrorCode, TRTCErrorCode, fromNative, invalid } = require('./errors')
const { safeCall } = require('./keepalive')
const { LINK } = require('./link')
const { RTM } = require('./rtm')

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
    // An exception is reported as 'a TRTCCloud <event> listener threw: …' and counted.
    for (const fn of [...set]) safeCall((a) => fn(...a), args, `TRTCCloud ${event}`)
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
        const answer = await this._rtm[LINK].request('enterRoom', (native, tag) => native.enterRoom(tag, room, ROLE_NAMES[role], SCENE_NAMES[scene]))
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
    if (this._rtm && this._identity === identity && this._rtm[LINK].linkState() === 'CONNECTED') return
    if (this._rtm) await this._rtm.logout().catch(() => {})
    const rtm = new RTM(appId, userId, this._options)
    rtm.addEventListener('linkState', (e) => this._onLink(e))
    rtm[LINK].onRoomEvent((kind, body, data) => this._onRoomEvent(kind, body, data))
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
    if (rtm && this._room) await rtm[LINK].request('exitRoom', (native, tag) => native.exitRoom(tag)).catch(() => {})
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
        await this._rtm[LINK].request('switchRole', (native, tag) => native.switchRole(tag, ROLE_NAMES[role]))
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
        const answer = await this._rtm[LINK].request('switchRoom', (native, tag) => native.switchRoom(tag, room, params.userSig || undefined))
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
    if (this._rtm[LINK].sendCustomCmd(cmdId, seq, reliable, ordered, data)) return false
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

module.exports = { TRTCCloud, TRTCAppScene, TRTCRoleType, Bucket }
