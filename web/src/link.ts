// The connection of one client, as the engine's Rust client runs it
// (crates/engine/src/client/link.rs and mod.rs): connect (trying each endpoint in turn, capped
// exponential backoff with jitter), hello, welcome; requests with increasing ids, answered once;
// a ping every `heartbeat` seconds carrying `received` (data frames since the welcome); the link
// counts as dead after a heartbeat plus `pongTimeoutMs` of silence. A reconnect first resumes
// the session (`resume: {session, secret, received}`; the requests the server never handled,
// ids above the welcome's `lastRequest`, go again in order); when the server no longer has it,
// a new session is rebuilt from what the client remembers (memory.ts), and requests in flight
// on the lost session fail with NOT_CONNECTED. Link states follow RTM 2's machine.

import { encodeBinary, decodeBinary } from './bytes'
import { ErrorCode, RTMError, codeName } from './errors'
import { Memory } from './memory'
import { PresenceViews } from './views'
import type { Cipher } from './cipher'

export type LinkStateName = 'IDLE' | 'CONNECTING' | 'CONNECTED' | 'DISCONNECTED' | 'SUSPENDED' | 'FAILED'
type Frame = Record<string, any>
type Wire = string | Uint8Array

export interface LinkStateEvent {
  currentState: LinkStateName
  previousState: LinkStateName
  serviceType: 'MESSAGE'
  operation: string
  reason: string
  reasonCode: string
  affectedChannels: string[]
  unrestoredChannels: string[]
  isResumed: boolean
  timestamp: number
}

export interface LinkConfig {
  appId: string
  userId: string
  kind: 'rtm' | 'trtc'
  endpoints: string[]
  heartbeat: number
  presenceTimeout: number
  requestTimeoutMs: number
  loginTimeoutMs: number
  pongTimeoutMs: number
  connectTimeoutMs: number
  reconnectInitialMs: number
  reconnectMaxMs: number
  cipher: Cipher | null
}

/** What the client above the link (RTM, TRTCCloud) is told. */
export interface LinkHooks {
  linkState: (event: LinkStateEvent) => void
  /** A server event frame (msg, rt, cmd, presence, topic, storage, lock, token, room) with its payload. */
  event: (frame: Frame, payload: Uint8Array | null) => void | Promise<void>
  /** After a reconnect that could not resume, the room was entered again (or not). */
  roomRestored?: (result: { ok: true, answer: Frame } | { ok: false, error: RTMError }) => void
}

interface Pending {
  op: string
  resolve: (answer: Frame) => void
  reject: (error: RTMError) => void
  deadline: number
  frame: Wire | null
  /** The request without its id, and its payload: re-numbered when a new session rebuilds first. */
  body: Frame | null
  payload?: Uint8Array
  epoch: number
  track: Frame | null
  restore: string | null
}

const DESCRIPTIONS: Record<string, string> = {
  LOGIN: 'Perform login operation', LOGIN_SUCCESS: 'Login success', LOGIN_TIMEOUT: 'Login timeout',
  LOGIN_NOT_AUTHORIZED: 'Login not authorized', LOGIN_REJECTED: 'Login rejected', LOGOUT: 'Logout success',
  AUTO_RECONNECT: 'Reconnecting', RECONNECT_SUCCESS: 'Reconnect success', RECONNECT_TIMEOUT: 'Reconnect timeout',
  INVALID_TOKEN: 'Invalid token', TOKEN_EXPIRED: 'Token expired', INCONSISTENT_APP_ID: 'Inconsistent app ID',
  INVALID_USER_ID: 'Invalid user ID', SAME_UID_LOGIN: 'The same uid login on another device',
  KICKED_OUT_BY_SERVER: 'Kicked out by server', KEEP_ALIVE_TIMEOUT: 'Keep alive timeout',
  CONNECTION_ERROR: 'Connection error', SERVICE_NOT_SUPPORTED: 'Service not supported'
}
/** Close codes after which reconnecting is pointless (docs/PROTOCOL.md#close-codes). */
const FATAL = new Set([4001, 4002, 4005, 4006, 4007])
const FATAL_REASONS: Record<number, string> = { 4002: 'SAME_UID_LOGIN', 4006: 'KICKED_OUT_BY_SERVER', 4007: 'TOKEN_EXPIRED', 4005: 'SERVICE_NOT_SUPPORTED' }
const LOGIN_REASONS: Record<string, string> = {
  RTM_ERROR_INVALID_TOKEN: 'INVALID_TOKEN', RTM_ERROR_TOKEN_EXPIRED: 'TOKEN_EXPIRED', RTM_ERROR_INCONSISTENT_APPID: 'INCONSISTENT_APP_ID',
  RTM_ERROR_LOGIN_NOT_AUTHORIZED: 'LOGIN_NOT_AUTHORIZED', RTM_ERROR_INVALID_USER_ID: 'INVALID_USER_ID', RTM_ERROR_SERVICE_NOT_SUPPORTED: 'SERVICE_NOT_SUPPORTED'
}
/** Most datagrams and custom messages kept while the link is down (oldest dropped first). */
const MAX_HELD = 256
/** Frames received since the last ping after which the link acknowledges before its heartbeat. */
const EARLY_ACK_FRAMES = 64

function timeoutCode (op: string): number {
  if (op === 'subscribe') return ErrorCode.RTM_ERROR_CHANNEL_SUBSCRIBE_TIMEOUT
  if (op === 'publish' || op === 'publishTopic') return ErrorCode.RTM_ERROR_CHANNEL_PUBLISH_MESSAGE_TIMEOUT
  if (op === 'join') return ErrorCode.RTM_ERROR_CHANNEL_JOIN_FAILED
  if (['whoNow', 'whereNow', 'setState', 'getState', 'removeState'].includes(op)) return ErrorCode.RTM_ERROR_PRESENCE_OPERATION_TIMEOUT
  return ErrorCode.RTM_ERROR_NOT_CONNECTED
}

/** The package version (esbuild's define, web/build.mjs). */
declare const __VERSION__: string
const now = (): number => Date.now()
const encode = (frame: Frame, payload?: Uint8Array): Wire => (payload ? encodeBinary(frame, payload) : JSON.stringify(frame))
const errorOf = (op: string, f: Frame): RTMError => new RTMError(op, f.code, f.reason, f.name)

type Connected = { ws: WebSocket, welcome: Frame }
type Outcome = { ok: Connected } | { refused: RTMError, code: number } | { unreachable: string }
type LinkEnd = { stopped: true } | { fatal: number, reason: string } | { lost: [string, string, string] }

export class Link {
  phase: 'idle' | 'loggingIn' | 'loggedIn' | 'loggingOut' = 'idle'
  state: LinkStateName = 'IDLE'
  readonly memory = new Memory()
  private readonly views = new PresenceViews()
  maxMessageBytes = 32768
  maxRealtimeBytes = 128000
  /** Datagrams / custom messages dropped while the link was down. */
  heldDropped = 0
  private generation = 0
  private epoch = 0
  private nextId = 1
  private pending = new Map<number, Pending>()
  /** Requests submitted while the link is down (by id), sent when it is up again. */
  private queue: number[] = []
  private held: Wire[] = []
  private ws: WebSocket | null = null
  private attempt: WebSocket | null = null
  private connected = false
  private session: { id: string, secret: string } | null = null
  private received = 0
  private token: string | null = null
  private restoring: { waiting: number, unrestored: string[] } | null = null
  private login: { resolve: (r: Frame) => void, reject: (e: RTMError) => void } | null = null
  private logouts: Array<(r: Frame) => void> = []
  private endLink: ((end: LinkEnd) => void) | null = null
  private wake: (() => void) | null = null
  private sweeper: ReturnType<typeof setInterval> | null = null
  private inbound: Promise<void> = Promise.resolve()

  constructor (readonly config: LinkConfig, private readonly hooks: LinkHooks) {}

  // ---- calls

  /** Logs in; resolves at the first welcome, rejects when refused or past loginTimeoutMs. */
  start (token: string | null): Promise<Frame> {
    if (this.phase !== 'idle') return Promise.reject(new RTMError('login', ErrorCode.RTM_ERROR_DUPLICATE_OPERATION, 'already logged in or logging in'))
    this.phase = 'loggingIn'
    const generation = ++this.generation
    this.token = token || null
    this.session = null
    return new Promise((resolve, reject) => {
      this.login = { resolve, reject }
      this.sweeper = setInterval(() => this.expire(), 100)
      // Events never come inside the call that caused them (CONNECTING included).
      queueMicrotask(() => void this.supervise(generation))
    })
  }

  /** Logs out: the server ends the session at once; resolves even when not logged in. */
  stop (): Promise<Frame> {
    return new Promise((resolve) => {
      if (this.phase === 'idle') return resolve({ timestamp: now() })
      this.logouts.push(resolve)
      if (this.phase === 'loggingOut') return
      this.phase = 'loggingOut'
      if (this.connected) {
        const id = this.nextId++
        this.pending.set(id, { op: 'logout', resolve: () => {}, reject: () => {}, deadline: now() + 2000, frame: null, body: null, epoch: this.epoch, track: null, restore: null })
        this.ws?.send(JSON.stringify({ op: 'logout', id }))
      } else {
        queueMicrotask(() => this.finishLogout())
      }
    })
  }

  /** Sends a request (`frame` has its `op`); resolves with the answer's `r`. */
  request (operation: string, frame: Frame, payload?: Uint8Array, timeoutMs = this.config.requestTimeoutMs): Promise<Frame> {
    return new Promise((resolve, reject) => {
      if (this.phase !== 'loggedIn' && this.phase !== 'loggingIn') {
        return reject(new RTMError(operation, ErrorCode.RTM_ERROR_NOT_LOGIN, `${operation} needs a logged-in client`))
      }
      const id = this.nextId++
      const full = { ...frame, id }
      const wire = encode(full, payload)
      const track = Memory.tracks(frame.op) ? full : null
      this.pending.set(id, { op: operation, resolve, reject, deadline: now() + timeoutMs, frame: wire, body: frame, payload, epoch: this.epoch, track, restore: null })
      if (this.connected && this.ws) this.ws.send(wire)
      else this.queue.push(id)
    })
  }

  /** Sends a frame that has no answer (realtime datagrams, custom messages); held while down. */
  sendUnanswered (operation: string, wire: Wire): void {
    if (this.phase !== 'loggedIn') throw new RTMError(operation, ErrorCode.RTM_ERROR_NOT_LOGIN, `${operation} needs a logged-in client`)
    if (this.connected && this.ws) return this.ws.send(wire)
    if (this.held.length >= MAX_HELD) { this.held.shift(); this.heldDropped++ }
    this.held.push(wire)
  }

  // ---- the supervisor of one login

  private current (generation: number): boolean {
    return this.generation === generation && this.phase !== 'idle'
  }

  private async supervise (generation: number): Promise<void> {
    const { endpoints, loginTimeoutMs } = this.config
    const loginDeadline = now() + loginTimeoutMs
    let ever = false
    let presenceTimeout = this.config.presenceTimeout
    let lostAt: number | null = null
    let attempt = 0
    let index = 0
    let lastError = ''
    this.setLink('CONNECTING', 'LOGIN', 'LOGIN')
    while (this.current(generation)) {
      const endpoint = endpoints[index++ % endpoints.length]
      const outcome = await this.connect(endpoint, ever ? Infinity : loginDeadline)
      if (!this.current(generation)) {
        if ('ok' in outcome) outcome.ok.ws.close(1000)
        break
      }
      if ('ok' in outcome) {
        attempt = 0
        index-- // after a drop, this endpoint first: it holds the session
        const first = !ever
        ever = true
        this.onConnected(outcome.ok, first)
        if (outcome.ok.welcome.presenceTimeout > 0) presenceTimeout = outcome.ok.welcome.presenceTimeout
        const end = await this.run(outcome.ok.ws, generation)
        if ('stopped' in end) break
        if ('fatal' in end) { this.onFatal(end.fatal, end.reason); break }
        if (!this.onLost(...end.lost)) break
        lostAt = now()
        lastError = end.lost[2]
      } else if ('refused' in outcome) {
        if (ever) this.onFatal(outcome.code, outcome.refused.reason)
        else this.failLogin(outcome.refused, LOGIN_REASONS[codeName(outcome.refused.errorCode)] ?? 'LOGIN_REJECTED')
        break
      } else {
        if (outcome.unreachable !== 'login timeout') lastError = `${endpoint}: ${outcome.unreachable}`
        if (!ever && now() >= loginDeadline) {
          const reason = `no server reachable within ${loginTimeoutMs} ms (last error: ${lastError})`
          this.failLogin(new RTMError('login', ErrorCode.RTM_ERROR_LOGIN_TIMEOUT, reason), 'LOGIN_TIMEOUT')
          break
        }
      }
      const suspendedAt = lostAt === null ? null : lostAt + presenceTimeout * 1000
      if (suspendedAt !== null && now() >= suspendedAt) this.setLink('SUSPENDED', 'AUTO_RECONNECT', 'RECONNECT_TIMEOUT')
      const base = Math.min(this.config.reconnectInitialMs * 2 ** Math.min(attempt, 16), this.config.reconnectMaxMs)
      attempt++
      let delay = base * (0.5 + Math.random() / 2)
      if (!ever) delay = Math.min(delay, Math.max(0, loginDeadline - now()))
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, delay)
        const suspend = suspendedAt !== null && suspendedAt > now() && suspendedAt < now() + delay
          ? setTimeout(() => this.setLink('SUSPENDED', 'AUTO_RECONNECT', 'RECONNECT_TIMEOUT'), suspendedAt - now())
          : null
        function done (): void { clearTimeout(timer); if (suspend) clearTimeout(suspend); resolve() }
        this.wake = done
      })
      this.wake = null
    }
  }

  private hello (): Frame {
    const hello: Frame = {
      op: 'hello', v: 1, appId: this.config.appId, userId: this.config.userId, kind: this.config.kind,
      heartbeat: this.config.heartbeat, presenceTimeout: this.config.presenceTimeout,
      resume: this.session ? { session: this.session.id, secret: this.session.secret, received: this.received } : null,
      agent: `piazza-rtc-web/${__VERSION__}`
    }
    if (this.token) hello.token = this.token
    return hello
  }

  /** Connects, says hello, waits for the welcome. */
  private connect (endpoint: string, deadline: number): Promise<Outcome> {
    return new Promise((resolve) => {
      let ws: WebSocket
      try {
        ws = new WebSocket(endpoint)
      } catch (e) {
        return resolve({ unreachable: String(e) })
      }
      ws.binaryType = 'arraybuffer'
      this.attempt = ws
      let refusal: RTMError | null = null
      let done = false
      const finish = (outcome: Outcome, close: boolean): void => {
        if (done) return
        done = true
        clearTimeout(timer)
        this.attempt = null
        ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null
        if (close) try { ws.close() } catch { /* closing */ }
        resolve(outcome)
      }
      const wait = Math.max(0, Math.min(this.config.connectTimeoutMs, deadline - now()))
      const timer = setTimeout(() => finish({ unreachable: deadline <= now() ? 'login timeout' : 'handshake timed out' }, true), wait)
      ws.onopen = () => ws.send(JSON.stringify(this.hello()))
      ws.onmessage = (m) => {
        if (typeof m.data !== 'string') return
        let f: Frame
        try { f = JSON.parse(m.data) } catch { return }
        if (f.t === 'welcome') finish({ ok: { ws, welcome: f } }, false)
        else if (f.t === 'err') refusal = errorOf('login', f)
      }
      ws.onclose = (ev) => {
        if (FATAL.has(ev.code) || ev.code === 1002) {
          finish({ refused: refusal ?? new RTMError('login', ErrorCode.RTM_ERROR_LOGIN_REJECTED, ev.reason || `closed with ${ev.code}`), code: ev.code }, false)
        } else {
          finish({ unreachable: `closed during handshake (${ev.code}: ${ev.reason})` }, false)
        }
      }
    })
  }

  /** The link is up: answer the login, resume (re-sending what the server never saw), or rebuild. */
  private onConnected ({ ws, welcome }: Connected, first: boolean): void {
    this.ws = ws
    this.connected = true
    this.maxMessageBytes = welcome.limits?.maxMessageBytes ?? this.maxMessageBytes
    this.maxRealtimeBytes = welcome.limits?.maxRealtimeBytes ?? this.maxRealtimeBytes
    const sameSession = this.session?.id === welcome.session
    this.session = { id: welcome.session, secret: welcome.resumeSecret }
    const queuedIds = this.queue
    const queued = queuedIds.map((id) => this.pending.get(id)?.frame).filter((f): f is Wire => !!f)
    const held = this.held
    this.queue = []
    this.held = []
    let out: Wire[] = []
    if (first) {
      this.phase = 'loggedIn'
      this.received = 0
      out = [...queued, ...held]
      for (const wire of out) ws.send(wire)
      this.setLink('CONNECTED', 'LOGIN', 'LOGIN_SUCCESS')
      const login = this.login
      this.login = null
      login?.resolve({ timestamp: now() })
      return
    }
    if (welcome.resumed && sameSession) {
      const again = [...this.pending].filter(([id, p]) => p.epoch < this.epoch && id > (welcome.lastRequest ?? 0) && p.frame)
        .sort(([a], [b]) => a - b).map(([, p]) => p.frame as Wire)
      for (const wire of [...again, ...queued, ...held]) ws.send(wire)
      this.setLink('CONNECTED', 'RECONNECTED', 'RECONNECT_SUCCESS', { isResumed: true, affectedChannels: this.memory.channels() })
      return
    }
    this.received = 0
    for (const [id, p] of [...this.pending]) {
      if (p.epoch < this.epoch && p.op !== 'logout' && !p.restore) {
        this.pending.delete(id)
        p.reject(new RTMError(p.op, ErrorCode.RTM_ERROR_NOT_CONNECTED, `${p.op}: the connection dropped and the session could not be resumed`))
      }
    }
    const steps = this.memory.restoreSteps()
    this.views.markRestoring(this.memory.presenceChannels())
    for (const step of steps) {
      const id = this.nextId++
      const frame = { ...step.frame, id }
      this.pending.set(id, {
        op: step.frame.op, resolve: () => {}, reject: () => {}, deadline: now() + this.config.requestTimeoutMs,
        frame: null, body: null, epoch: this.epoch, track: frame, restore: step.channel
      })
      out.push(JSON.stringify(frame))
    }
    // What was submitted while the link was down goes after the rebuild, with ids above its
    // ids (a new session refuses ids that do not increase).
    for (const old of queuedIds) {
      const p = this.pending.get(old)
      if (!p || !p.body) continue
      this.pending.delete(old)
      const id = this.nextId++
      const full = { ...p.body, id }
      p.frame = encode(full, p.payload)
      if (p.track) p.track = full
      this.pending.set(id, p)
      out.push(p.frame)
    }
    for (const wire of [...out, ...held]) ws.send(wire)
    this.restoring = steps.length > 0 ? { waiting: steps.length, unrestored: [] } : null
    if (steps.length === 0) this.restored([])
  }

  /** Runs a connected link until it ends. */
  private run (ws: WebSocket, generation: number): Promise<LinkEnd> {
    return new Promise((resolve) => {
      let lastSeen = now()
      const heartbeat = this.config.heartbeat * 1000
      // A ping every heartbeat, and sooner — at the next second — once EARLY_ACK_FRAMES frames
      // arrived since the last one: the server keeps every frame not yet acknowledged for a
      // resume, and on a busy link five seconds of them add up.
      let pinged = now()
      let acked = 0
      const ping = setInterval(() => {
        if (now() - pinged < heartbeat - 500 && this.received - acked < EARLY_ACK_FRAMES) return
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ op: 'ping', received: this.received }))
        pinged = now()
        acked = this.received
      }, 1000)
      const check = setInterval(() => {
        if (now() - lastSeen > heartbeat + this.config.pongTimeoutMs) {
          end({ lost: ['HEARTBEAT_TIMEOUT', 'KEEP_ALIVE_TIMEOUT', 'no answer from the server to the heartbeat'] })
        }
      }, 250)
      const end = (result: LinkEnd): void => {
        clearInterval(ping)
        clearInterval(check)
        ws.onmessage = ws.onclose = ws.onerror = null
        if (ws.readyState <= WebSocket.OPEN) try { ws.close(1000) } catch { /* closing */ }
        if (this.ws === ws) { this.ws = null; this.connected = false }
        this.endLink = null
        resolve(result)
      }
      this.endLink = end
      ws.onmessage = (m) => {
        lastSeen = now()
        this.received++
        const data = m.data as string | ArrayBuffer
        if (this.config.cipher) this.inbound = this.inbound.then(() => this.onFrame(data)).catch(reportFrameError)
        else try { void this.onFrame(data) } catch (err) { reportFrameError(err) }
      }
      ws.onclose = (ev) => {
        if (FATAL.has(ev.code)) end({ fatal: ev.code, reason: ev.reason })
        else if (!this.current(generation)) end({ stopped: true })
        else {
          const operation = ev.code === 1006 ? 'NETWORK_CHANGE' : 'SERVER_TIMEOUT'
          end({ lost: [operation, 'CONNECTION_ERROR', `server closed (${ev.code}: ${ev.reason})`] })
        }
      }
    })
  }

  /** Handles one data frame from the server. */
  private onFrame (data: string | ArrayBuffer): void | Promise<void> {
    let frame: Frame
    let payload: Uint8Array | null = null
    if (typeof data === 'string') {
      try { frame = JSON.parse(data) } catch { return }
    } else {
      const decoded = decodeBinary(data)
      if (!decoded) return
      frame = decoded.header
      payload = decoded.payload
    }
    switch (frame.t) {
      case 'ok': return this.complete(frame.id, frame.r ?? { timestamp: now() }, null)
      case 'err':
        if (frame.id !== null && frame.id !== undefined) return this.complete(frame.id, null, frame)
        console.warn(`piazza-rtc/web: the server reported ${frame.name}: ${frame.reason}`)
        return
      case 'pong': case 'welcome': return
      case 'room':
        if (frame.e?.event === 'exit') this.memory.room = null
        break
      case 'presence':
        if (frame.e) this.views.observe(frame.e)
    }
    return this.hooks.event(frame, payload)
  }

  /** Completes a pending request with the server's answer or error. */
  private complete (id: number, answer: Frame | null, error: Frame | null): void {
    const p = this.pending.get(id)
    if (!p) return
    this.pending.delete(id)
    if (p.restore !== null && p.track) {
      if (answer) this.memory.record(p.track, answer)
      else this.memory.forget(p.track)
      if (p.track.op === 'enterRoom') {
        this.hooks.roomRestored?.(answer ? { ok: true, answer } : { ok: false, error: errorOf('enterRoom', error as Frame) })
      }
      this.restoreStepDone(p.restore, answer !== null)
      return
    }
    if (p.op === 'logout') return this.finishLogout()
    if (answer && p.track) {
      if (p.track.op === 'renewToken' && !p.track.channel) this.token = p.track.token
      this.memory.record(p.track, answer)
      if (p.track.op === 'unsubscribe') this.views.forget('MESSAGE', p.track.channel)
      if (p.track.op === 'leave') this.views.forget('STREAM', p.track.channel)
    }
    if (answer) p.resolve(answer)
    else p.reject(errorOf(p.op, error as Frame))
  }

  private restoreStepDone (channel: string, ok: boolean): void {
    const r = this.restoring
    if (!r) return
    if (!ok && !r.unrestored.includes(channel)) r.unrestored.push(channel)
    if (--r.waiting === 0) {
      this.restoring = null
      this.restored(r.unrestored)
    }
  }

  private restored (unrestored: string[]): void {
    this.setLink('CONNECTED', 'RECONNECTED', 'RECONNECT_SUCCESS', { affectedChannels: this.memory.channels(), unrestoredChannels: unrestored })
  }

  /** Rejects every request whose deadline passed. */
  private expire (): void {
    const t = now()
    for (const [id, p] of [...this.pending]) {
      if (p.deadline > t) continue
      this.pending.delete(id)
      if (p.op === 'logout') this.finishLogout()
      else if (p.restore !== null && p.track) { this.memory.forget(p.track); this.restoreStepDone(p.restore, false) }
      else p.reject(new RTMError(p.op, timeoutCode(p.op), `no answer to ${p.op} within the request timeout`))
    }
  }

  private failAll (code: number, reason: string): void {
    this.queue = []
    const all = [...this.pending.values()]
    this.pending.clear()
    for (const p of all) p.reject(new RTMError(p.op, code, `${p.op}: ${reason}`))
  }

  private failLogin (error: RTMError, reason: string): void {
    this.phase = 'idle'
    this.stopTimers()
    this.setLink('FAILED', 'LOGIN', reason)
    this.failAll(error.errorCode, 'login failed')
    const login = this.login
    this.login = null
    login?.reject(error)
  }

  /** The server ended the session for good (same user id elsewhere, kicked, token expired). */
  private onFatal (code: number, reason: string): void {
    this.phase = 'idle'
    this.connected = false
    this.session = null
    this.restoring = null
    this.memory.clear()
    this.views.clear()
    this.stopTimers()
    this.setLink('FAILED', 'SERVER_REJECT', FATAL_REASONS[code] ?? 'LOGIN_REJECTED')
    this.failAll(ErrorCode.RTM_ERROR_NOT_LOGIN, `the server ended the session: ${reason}`)
  }

  /** The link dropped: DISCONNECTED; requests stay pending for a resume. */
  private onLost (operation: string, reason: string, _detail: string): boolean {
    this.connected = false
    this.epoch++
    if (this.phase === 'loggingOut') {
      this.finishLogout()
      return false
    }
    this.setLink('DISCONNECTED', operation, reason, { affectedChannels: this.memory.channels() })
    return true
  }

  private finishLogout (): void {
    if (this.phase === 'idle') return
    this.phase = 'idle'
    this.generation++
    this.memory.clear()
    this.views.clear()
    this.session = null
    this.restoring = null
    this.connected = false
    this.held = []
    this.stopTimers()
    this.endLink?.({ stopped: true })
    if (this.attempt) try { this.attempt.close() } catch { /* closing */ }
    this.wake?.()
    this.failAll(ErrorCode.RTM_ERROR_NOT_LOGIN, 'logged out before the answer arrived')
    const login = this.login
    this.login = null
    login?.reject(new RTMError('login', ErrorCode.RTM_ERROR_NOT_LOGIN, 'logged out before the login completed'))
    const previous = this.state
    this.state = 'IDLE'
    if (previous !== 'IDLE') this.hooks.linkState(event('IDLE', previous, 'LOGOUT', 'LOGOUT'))
    const logouts = this.logouts
    this.logouts = []
    for (const resolve of logouts) resolve({ timestamp: now() })
  }

  private stopTimers (): void {
    if (this.sweeper) clearInterval(this.sweeper)
    this.sweeper = null
  }

  private setLink (current: LinkStateName, operation: string, reason: string, extra: Partial<LinkStateEvent> = {}): void {
    if (this.state === current && current !== 'CONNECTED') return
    const e = { ...event(current, this.state, operation, reason), ...extra }
    this.state = current
    this.hooks.linkState(e)
  }

}

function event (current: LinkStateName, previous: LinkStateName, operation: string, reason: string): LinkStateEvent {
  return {
    currentState: current, previousState: previous, serviceType: 'MESSAGE', operation, reason: DESCRIPTIONS[reason] ?? reason,
    reasonCode: reason, affectedChannels: [], unrestoredChannels: [], isResumed: false, timestamp: now()
  }
}

function reportFrameError (err: unknown): void {
  console.error('piazza-rtc/web: handling a server frame failed', err)
}
