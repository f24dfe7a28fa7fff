// TRTCCloud for the browser: the Node package's TRTCCloud (lib/trtc.js over the engine's room
// client, crates/engine/src/client/room.rs) over link.ts — one TRTC session per instance, the
// same callbacks with the same arguments, codes and order: onEnterRoom(ms | code), then
// onRemoteUserEnterRoom for each member; onExitRoom(0 | 1 | 2); onRemoteUserLeaveRoom(user,
// 0 | 1 | 2 | 3); custom messages with per-cmdId sequence numbers and gap reports; the link's
// loss and recovery. Operations run one at a time, in call order; callbacks are asynchronous.

import type { TRTCCloudApi } from '../../common'
import { Emitter } from './emitter'
import { Link, type LinkStateEvent } from './link'
import { bytesOf, encodeBinary } from './bytes'
import { RTMError, TRTCErrorCode as C, invalid, isTrtcCode, strRoomIdProblem, codeName } from './errors'
import { endpointsOf, ranged } from './rtm'

type Frame = Record<string, any>
type RoomId = number | string

export const TRTCAppScene = Object.freeze({ TRTCAppSceneVideoCall: 0, TRTCAppSceneLIVE: 1, TRTCAppSceneAudioCall: 2, TRTCAppSceneVoiceChatRoom: 3 } as const)
export const TRTCRoleType = Object.freeze({ TRTCRoleAnchor: 20, TRTCRoleAudience: 21 } as const)
export const TRTCWarningCode = Object.freeze({ WARNING_USER_SIG_WILL_EXPIRE: 9001 } as const)
const SCENES = ['videoCall', 'live', 'audioCall', 'voiceChatRoom']
const ROLES: Record<number, string> = { 20: 'anchor', 21: 'audience' }
const MAX_ROOM_ID = 4294967294
const MAX_CMD_BYTES = 1024

/** trtc-electron-sdk's TRTCParams, with the SDK's defaults. */
export class TRTCParams {
  [key: string]: unknown
  constructor (sdkAppId = 0, userId = '', userSig = '', roomId = 0, strRoomId = '', role = 20,
    privateMapKey: string | null = null, businessInfo: string | null = null, streamId: string | null = null, userDefineRecordId: string | null = null) {
    Object.assign(this, { sdkAppId, userId, userSig, roomId, strRoomId, role, privateMapKey, businessInfo, streamId, userDefineRecordId })
  }
}

/** trtc-electron-sdk's TRTCSwitchRoomParam. */
export class TRTCSwitchRoomParam {
  [key: string]: unknown
  constructor (roomId = 0, strRoomId = '', userSig = '', privateMapKey = '') {
    Object.assign(this, { roomId, strRoomId, userSig, privateMapKey })
  }
}

/** The TRTC code a failure reports (room.rs `trtc_code`). */
function trtcCode (code: number): number {
  if (isTrtcCode(code)) return code
  switch (codeName(code)) {
    case 'RTM_ERROR_INVALID_APP_ID': return C.ERR_SDK_APPID_INVALID
    case 'RTM_ERROR_INVALID_USER_ID': return C.ERR_USER_ID_INVALID
    case 'RTM_ERROR_INVALID_TOKEN': case 'RTM_ERROR_TOKEN_EXPIRED': case 'RTM_ERROR_INCONSISTENT_APPID':
    case 'RTM_ERROR_LOGIN_NOT_AUTHORIZED': return C.ERR_USER_SIG_INVALID
    case 'RTM_ERROR_LOGIN_TIMEOUT': return C.ERR_ROOM_REQUEST_ENTER_ROOM_TIMEOUT
    default: return C.ERR_ROOM_ENTER_FAIL
  }
}

/** `{roomId}` or `{strRoomId}` → the wire room id, or why not (roomId wins when both are given). */
function roomOf (p: Frame): RoomId | string[] {
  const hasNum = p.roomId !== undefined && p.roomId !== 0 && p.roomId !== null
  const hasStr = p.strRoomId !== undefined && p.strRoomId !== '' && p.strRoomId !== null
  if (hasNum) {
    const n = p.roomId
    return Number.isInteger(n) && n >= 1 && n <= MAX_ROOM_ID ? n : [`roomId ${n} is not an integer in 1..${MAX_ROOM_ID}`]
  }
  if (!hasStr) return ['give roomId or strRoomId']
  if (typeof p.strRoomId !== 'string') return ['strRoomId must be a string']
  const problem = strRoomIdProblem(p.strRoomId)
  return problem ? [problem] : p.strRoomId
}

/** A rate limit of `rate` units per second with a burst of `rate`: all of `n` or nothing. */
class Bucket {
  private spent = 0
  private at = 0
  constructor (private readonly rate: number) {}
  take (n: number, t: number): boolean {
    this.spent = Math.max(0, this.spent - ((this.at ? t - this.at : 0) / 1000) * this.rate)
    this.at = t
    if (this.rate - this.spent < n) return false
    this.spent += n
    return true
  }
}

let shared: TRTCCloud | null = null

export class TRTCCloud extends Emitter implements TRTCCloudApi {
  private readonly options: Frame
  private link: Link | null = null
  private login: { appId: string, userId: string, userSig: string } | null = null
  private room: RoomId | null = null
  private members: string[] = []
  private lastSeq = new Map<string, Map<number, number>>()
  private sentSeq = new Map<number, number>()
  private messages = new Bucket(30)
  private bytes = new Bucket(8192)
  private lost = false
  private destroyed = false
  private ops: Promise<void> = Promise.resolve()

  constructor (options: Frame = {}) {
    super()
    if (options === null || options === undefined) options = {}
    if (typeof options !== 'object') throw invalid('TRTCCloud', 'options must be an object')
    const { presenceTimeout } = options
    if (presenceTimeout !== undefined && (!Number.isInteger(presenceTimeout) || presenceTimeout < 5 || presenceTimeout > 300)) {
      throw invalid('TRTCCloud', `presenceTimeout ${presenceTimeout} is outside [5, 300] seconds`)
    }
    endpointsOf('TRTCCloud', options)
    this.options = { ...options }
  }

  static getTRTCShareInstance (config?: Frame): TRTCCloud {
    if (!shared || shared.destroyed) shared = new TRTCCloud(config)
    return shared
  }

  static destroyTRTCShareInstance (): void {
    const instance = shared
    shared = null
    instance?.destroy()
  }

  /** Runs operations one at a time, in call order, never inside the call. */
  private queue (operation: string, run: () => Promise<void> | void): void {
    if (this.destroyed && operation !== 'destroy') throw invalid(operation, 'this TRTCCloud was destroyed')
    this.ops = this.ops.then(run).catch((err) => console.error(`piazza-rtc/web: TRTCCloud ${operation} failed`, err))
  }

  private newLink (login: { appId: string, userId: string, userSig: string }): Link {
    const o = this.options
    return new Link({
      appId: login.appId, userId: login.userId, kind: 'trtc', endpoints: endpointsOf('TRTCCloud', o),
      presenceTimeout: o.presenceTimeout ?? 0, heartbeat: ranged('TRTCCloud', o.heartbeatInterval, 'heartbeatInterval', 5, 1800, 5),
      requestTimeoutMs: 10000, loginTimeoutMs: 10000, connectTimeoutMs: 5000,
      pongTimeoutMs: ranged('TRTCCloud', o.pongTimeoutMs, 'pongTimeoutMs', 100, 600000, 5000),
      reconnectInitialMs: 200, reconnectMaxMs: 10000, cipher: null
    }, {
      linkState: (e) => this.onLink(e),
      event: (f, payload) => this.onEvent(f, payload),
      roomRestored: (r) => this.onRestored(r)
    })
  }

  enterRoom (params: Frame, scene: number = TRTCAppScene.TRTCAppSceneVideoCall): void {
    const calledAt = Date.now()
    this.queue('enterRoom', async () => {
      const fail = (code: number, message: string): void => { this.emit('onError', code, message); this.emit('onEnterRoom', code) }
      if (!params || typeof params !== 'object') return fail(C.ERR_ENTER_ROOM_PARAM_NULL, 'enterRoom needs params')
      const { sdkAppId, userId, userSig = '', role = TRTCRoleType.TRTCRoleAnchor } = params
      if (!Number.isInteger(sdkAppId) || sdkAppId <= 0) return fail(C.ERR_SDK_APPID_INVALID, `sdkAppId ${sdkAppId} is not a positive integer`)
      if (typeof userId !== 'string' || userId === '') return fail(C.ERR_USER_ID_INVALID, 'userId must be a non-empty string')
      const room = roomOf(params)
      if (Array.isArray(room)) return fail(C.ERR_ROOM_ID_INVALID, room[0])
      if (typeof userSig !== 'string') return fail(C.ERR_USER_SIG_INVALID, 'userSig must be a string')
      if (!ROLES[role]) return fail(C.ERR_ENTER_ROOM_PARAM_NULL, `role ${role} is not a TRTCRoleType`)
      if (!SCENES[scene]) return fail(C.ERR_ENTER_ROOM_PARAM_NULL, `scene ${scene} is not a TRTCAppScene`)
      if (this.room !== null) await this.exit()
      const login = { appId: String(sdkAppId), userId, userSig }
      const same = this.login && this.login.appId === login.appId && this.login.userId === userId && this.login.userSig === userSig
      if (!this.link || !same || this.link.state !== 'CONNECTED') {
        if (this.link) await this.link.stop()
        this.link = this.newLink(login)
        this.login = login
        try {
          await this.link.start(userSig || null)
        } catch (e) {
          const err = e as RTMError
          return fail(trtcCode(err.errorCode), err.reason || err.message)
        }
      }
      let answer: Frame
      try {
        answer = await this.link.request('enterRoom', { op: 'enterRoom', room, role: ROLES[role], scene: SCENES[scene] })
      } catch (e) {
        const err = e as RTMError
        return fail(trtcCode(err.errorCode), err.reason || err.message)
      }
      this.room = room
      this.members = [...new Set<string>(answer.members ?? [])]
      this.lastSeq.clear()
      this.emit('onEnterRoom', Math.max(1, Date.now() - calledAt))
      for (const user of this.members) this.emit('onRemoteUserEnterRoom', user)
    })
  }

  /** Sends exitRoom (whatever its answer), then onExitRoom(0). */
  private async exit (): Promise<void> {
    if (this.room !== null && this.link) await this.link.request('exitRoom', { op: 'exitRoom' }, undefined, 2000).catch(() => {})
    this.room = null
    this.members = []
    this.emit('onExitRoom', 0)
  }

  exitRoom (): void {
    this.queue('exitRoom', () => this.exit())
  }

  switchRole (role: number): void {
    this.queue('switchRole', async () => {
      if (!ROLES[role]) return void this.emit('onSwitchRole', C.ERR_ENTER_ROOM_PARAM_NULL, `role ${role} is not a TRTCRoleType`)
      if (this.room === null || !this.link) return void this.emit('onSwitchRole', C.ERR_NOT_IN_ROOM, 'switchRole needs a room')
      try {
        await this.link.request('switchRole', { op: 'switchRole', role: ROLES[role] })
        this.emit('onSwitchRole', 0, '')
      } catch (e) {
        const err = e as RTMError
        this.emit('onSwitchRole', trtcCode(err.errorCode), err.reason)
      }
    })
  }

  switchRoom (params: Frame): void {
    this.queue('switchRoom', async () => {
      const refuse = (code: number, message: string): void => void this.emit('onSwitchRoom', code, message)
      if (!params || typeof params !== 'object') return refuse(C.ERR_ENTER_ROOM_PARAM_NULL, 'switchRoom needs params')
      const room = roomOf(params)
      if (Array.isArray(room)) return refuse(C.ERR_ROOM_ID_INVALID, room[0])
      const userSig = params.userSig || ''
      if (typeof userSig !== 'string') return refuse(C.ERR_USER_SIG_INVALID, 'userSig must be a string')
      if (this.room === null || !this.link) return refuse(C.ERR_NOT_IN_ROOM, 'switchRoom needs a room')
      let answer: Frame
      try {
        answer = await this.link.request('switchRoom', userSig ? { op: 'switchRoom', room, token: userSig } : { op: 'switchRoom', room })
      } catch (e) {
        const err = e as RTMError
        return refuse(trtcCode(err.errorCode), err.reason)
      }
      const old = this.members
      this.members = [...new Set<string>(answer.members ?? [])]
      this.room = room
      this.lastSeq.clear()
      for (const user of old) this.emit('onRemoteUserLeaveRoom', user, 0)
      this.emit('onSwitchRoom', 0, '')
      for (const user of this.members) this.emit('onRemoteUserEnterRoom', user)
    })
  }

  renewUserSig (userSig: string): void {
    this.queue('renewUserSig', async () => {
      if (typeof userSig !== 'string' || !userSig) return void this.emit('onError', C.ERR_USER_SIG_INVALID, 'renewUserSig: userSig must be a non-empty string')
      if (!this.link) return void this.emit('onError', C.ERR_USER_SIG_INVALID, 'renewUserSig: not logged in (enter a room first)')
      try {
        await this.link.request('renewUserSig', { op: 'renewToken', token: userSig })
        if (this.login) this.login.userSig = userSig
      } catch (e) {
        this.emit('onError', C.ERR_USER_SIG_INVALID, `renewUserSig: ${(e as RTMError).reason}`)
      }
    })
  }

  /** cmdId 1–10, ≤ 1 KB, ≤ 30/s and 8 KB/s, reliable === ordered; false when refused. */
  sendCustomCmdMsg (cmdId: number, data: string | Uint8Array, reliable: boolean, ordered: boolean): boolean {
    if (this.destroyed || !Number.isInteger(cmdId) || this.room === null || !this.link) return false
    if (typeof reliable !== 'boolean' || reliable !== ordered) return false
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) return false
    if (cmdId < 1 || cmdId > 10) return false
    const bytes = bytesOf(data)
    if (bytes.length > MAX_CMD_BYTES) return false
    const t = Date.now()
    if (!this.messages.take(1, t) || !this.bytes.take(bytes.length, t)) return false
    const seq = (this.sentSeq.get(cmdId) ?? 0) + 1
    const header = { op: 'customCmd', cmdId, seq, reliable, ordered, messageType: typeof data === 'string' ? 'STRING' : 'BINARY' }
    try {
      this.link.sendUnanswered('customCmd', encodeBinary(header, bytes))
    } catch {
      return false
    }
    this.sentSeq.set(cmdId, seq)
    return true
  }

  destroy (): void {
    if (this.destroyed) return
    this.destroyed = true
    this.queue('destroy', async () => {
      if (this.room !== null) await this.exit()
      await this.link?.stop()
      this.link = null
    })
  }

  // ---- what the link reports

  private onLink (e: LinkStateEvent): void {
    if (e.currentState === 'DISCONNECTED' && !this.lost) {
      this.lost = true
      this.emit('onConnectionLost')
      this.emit('onTryToReconnect')
    } else if (e.currentState === 'CONNECTED' && this.lost) {
      this.lost = false
      this.emit('onConnectionRecovery')
    } else if (e.currentState === 'FAILED' && this.room !== null) {
      this.room = null
      this.members = []
      if (e.reasonCode === 'TOKEN_EXPIRED') {
        this.emit('onError', C.ERR_SERVER_SSO_SIG_EXPIRED, 'the userSig expired and was not renewed (renewUserSig): the session ended')
        this.emit('onExitRoom', 0)
      } else {
        this.emit('onError', C.ERR_ROOM_ENTER_FAIL, `the connection to the server ended: ${e.reason} (${e.reasonCode})`)
        this.emit('onExitRoom', 1)
      }
    }
  }

  private onEvent (f: Frame, payload: Uint8Array | null): void {
    const e = f.e as Frame
    if (f.t === 'room') {
      if (e.event === 'remoteEnter') {
        if (!this.members.includes(e.userId)) this.members.push(e.userId)
        this.emit('onRemoteUserEnterRoom', e.userId)
      } else if (e.event === 'remoteLeave') {
        this.members = this.members.filter((u) => u !== e.userId)
        this.lastSeq.delete(e.userId)
        this.emit('onRemoteUserLeaveRoom', e.userId, e.reason)
      } else if (e.event === 'exit') {
        this.room = null
        this.members = []
        if (e.code) this.emit('onError', e.code, e.message ?? '')
        this.emit('onExitRoom', e.reason)
      }
    } else if (f.t === 'cmd' && payload) {
      const seqs = this.lastSeq.get(e.userId) ?? new Map<number, number>()
      this.lastSeq.set(e.userId, seqs)
      const last = seqs.get(e.cmdId)
      seqs.set(e.cmdId, e.seq)
      if (last !== undefined && e.reliable && e.seq > last + 1) this.emit('onMissCustomCmdMsg', e.userId, e.cmdId, 0, e.seq - last - 1)
      const data = f.mt === 'BINARY' ? payload.slice() : new TextDecoder().decode(payload)
      this.emit('onRecvCustomCmdMsg', e.userId, e.cmdId, e.seq, data)
    } else if (f.t === 'token' && e.eventType === 'WILL_EXPIRE' && !e.channelName) {
      this.emit('onWarning', TRTCWarningCode.WARNING_USER_SIG_WILL_EXPIRE, 'the userSig expires in 30 s: call renewUserSig with a new one to stay in the room')
    }
  }

  /** After a reconnect that could not resume: who left while away, then who came. */
  private onRestored (r: { ok: true, answer: Frame } | { ok: false, error: RTMError }): void {
    if (!r.ok) {
      this.room = null
      this.members = []
      this.emit('onError', trtcCode(r.error.errorCode), r.error.reason)
      this.emit('onExitRoom', 1)
      return
    }
    const now = [...new Set<string>(r.answer.members ?? [])]
    const old = this.members
    this.members = now
    for (const user of old) if (!now.includes(user)) this.emit('onRemoteUserLeaveRoom', user, 0)
    for (const user of now) if (!old.includes(user)) this.emit('onRemoteUserEnterRoom', user)
  }
}

