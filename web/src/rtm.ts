// RTM for the browser: the Node package's RTM (lib/rtm.js) over link.ts instead of the addon.
// The same methods, arguments, checks, error codes and events; payloads are sealed and opened
// with WebCrypto (cipher.ts) when the config asks for end-to-end encryption.

import type { RTMClientApi, LoginResponse, LogoutResponse, RenewTokenResponse, SubscribeResponse, UnsubscribeResponse, PublishResponse } from '../../common'
import { Emitter } from './emitter'
import { Link, type LinkStateEvent } from './link'
import { Cipher, type Mode } from './cipher'
import { bytesOf, fromUtf8, toPayload } from './bytes'
import {
  ErrorCode, RTMError, invalid, checkString, checkOptions, bool, channelName, userIdName, checkName, scopeName,
  checkCustomType, listenerErrorCount, reportListenerError, codeName
} from './errors'
import { RTMPresence, RTMStorage, RTMLock, RTMHistory } from './apis'
import { RTMStreamChannel } from './stream'
import { RealtimeChannel } from './realtime'

type Frame = Record<string, any>
/** A server's answer: the response type each public method declares (the shared API's); the wire frame is that shape. */
type Answer = any // eslint-disable-line @typescript-eslint/no-explicit-any
const EVENTS = new Set(['message', 'presence', 'topic', 'storage', 'lock', 'linkState', 'token', 'tokenPrivilegeWillExpire', 'status', 'error'])
const MODES = new Set(['NONE', 'AES_128_GCM', 'AES_256_GCM'])
const STATUS_OF_LINK: Record<string, string> = {
  IDLE: 'DISCONNECTED', CONNECTING: 'CONNECTING', CONNECTED: 'CONNECTED', DISCONNECTED: 'RECONNECTING', SUSPENDED: 'RECONNECTING', FAILED: 'FAILED'
}
/** rtmConfig keys of the Node package that mean nothing in a browser: ignored by name. */
const IGNORED = new Set(['caCertificates', 'tls', 'logFormat', 'logUpload', 'cloudProxy', 'useStringUserId', 'logLevel'])
const KNOWN = new Set(['endpoint', 'encryptionMode', 'salt', 'cipherKey', 'presenceTimeout', 'heartbeatInterval', 'privateConfig',
  'requestTimeoutMs', 'loginTimeoutMs', 'pongTimeoutMs'])

/** The endpoints of a config: `endpoint`, else privateConfig.accessPointHosts (ws:// added to bare hosts). */
export function endpointsOf (operation: string, config: Frame): string[] {
  const hosts: unknown[] = config.privateConfig?.accessPointHosts ?? []
  const list = [config.endpoint, ...hosts].filter((e) => e !== undefined && e !== null && e !== '')
  if (list.length === 0) {
    throw invalid(operation, 'no server to connect to: pass `endpoint` (or privateConfig.accessPointHosts)')
  }
  return list.map((e) => {
    if (typeof e !== 'string') throw new RTMError(operation, ErrorCode.RTM_ERROR_INVALID_PRIVATE_CONFIG, 'an endpoint must be a string')
    const url = /^wss?:\/\//.test(e) ? e : `${globalThis.location?.protocol === 'https:' ? 'wss' : 'ws'}://${e}`
    if (!/^wss?:\/\/[^/\s]+/.test(url)) throw new RTMError(operation, ErrorCode.RTM_ERROR_INVALID_PRIVATE_CONFIG, `endpoint ${JSON.stringify(e)} must be a ws:// or wss:// URL`)
    return url
  })
}

/** A number option within [min, max] (default `fallback`). */
export function ranged (operation: string, value: unknown, what: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw invalid(operation, `${what} ${String(value)} is outside [${min}, ${max}]`)
  }
  return value as number
}

/** The internal interface of a client for its presence, storage, stream and realtime objects. */
export interface RtmInternals {
  link: Link
  cipher: Cipher | null
  userId: string
  /** Seals a payload when encryption is on (in call order), then runs `send` with the bytes to send. */
  sealed: <T>(payload: Uint8Array, send: (bytes: Uint8Array, encrypted: boolean) => Promise<T> | T) => Promise<T>
  /** Opens a sealed payload or reports it (an `error` event) and returns null. */
  open: (sealed: Uint8Array, context: Frame) => Promise<Uint8Array | null>
  realtime: Map<string, RealtimeChannel>
}

export const INTERNALS = Symbol('piazza.internals')

/** The RTM client (agora-rtm-sdk 2.x `RTM` shape) in a browser. */
export class RTM extends Emitter implements RTMClientApi {
  readonly appId: string
  readonly userId: string
  readonly presence: RTMPresence
  readonly storage: RTMStorage
  readonly lock: RTMLock
  readonly history: RTMHistory
  /** @internal */
  readonly [INTERNALS]: RtmInternals
  private readonly _link: Link
  private readonly _cipher: Cipher | null
  private _sealing: Promise<unknown> = Promise.resolve()

  static get listenerErrorCount (): number { return listenerErrorCount() }

  constructor (appId: string, userId: string, rtmConfig: Frame = {}) {
    super()
    const op = 'constructor'
    checkString(op, appId, 'appId')
    checkString(op, userId, 'userId')
    if (rtmConfig === null || typeof rtmConfig !== 'object') throw invalid(op, 'rtmConfig must be an object')
    checkName(op, appId, 'app id', ErrorCode.RTM_ERROR_INVALID_APP_ID)
    userIdName(op, userId)
    for (const key of Object.keys(rtmConfig)) {
      if (!KNOWN.has(key) && !IGNORED.has(key)) console.warn(`piazza-rtc/web: rtmConfig: unknown option ${JSON.stringify(key)} ignored`)
    }
    const c = rtmConfig
    const enc = c.encryptionMode ?? 'NONE'
    const bad = (why: string): RTMError => invalid(op, why, ErrorCode.RTM_ERROR_INVALID_ENCRYPTION_PARAMETER)
    if (!MODES.has(enc)) throw bad(`encryptionMode ${JSON.stringify(enc)} is not one of NONE, AES_128_GCM, AES_256_GCM`)
    if (c.cipherKey !== undefined && typeof c.cipherKey !== 'string') throw bad('cipherKey must be a string')
    if (c.salt !== undefined && !(c.salt instanceof Uint8Array)) throw bad('salt must be a Uint8Array')
    let cipher: Cipher | null = null
    if (enc !== 'NONE') {
      if (!c.cipherKey) throw bad('encryption needs a non-empty cipherKey')
      if (!c.salt || c.salt.length !== 32) throw bad(`salt must be 32 bytes, got ${c.salt ? c.salt.length : 0}`)
      cipher = new Cipher(enc as Mode, c.cipherKey, c.salt)
    }
    this._cipher = cipher
    this._link = new Link({
      appId, userId, kind: 'rtm', endpoints: endpointsOf(op, c),
      presenceTimeout: ranged(op, c.presenceTimeout, 'presenceTimeout', 5, 300, 300),
      heartbeat: ranged(op, c.heartbeatInterval, 'heartbeatInterval', 5, 1800, 5),
      requestTimeoutMs: ranged(op, c.requestTimeoutMs, 'requestTimeoutMs', 100, 600000, 10000),
      loginTimeoutMs: ranged(op, c.loginTimeoutMs, 'loginTimeoutMs', 100, 600000, 10000),
      pongTimeoutMs: ranged(op, c.pongTimeoutMs, 'pongTimeoutMs', 100, 600000, 5000),
      connectTimeoutMs: 5000,
      reconnectInitialMs: 200,
      reconnectMaxMs: 10000,
      cipher
    }, {
      linkState: (e) => this._onLinkState(e),
      event: (frame, payload) => this._onEvent(frame, payload)
    })
    this.appId = appId
    this.userId = userId
    this[INTERNALS] = {
      link: this._link,
      cipher,
      userId,
      sealed: (payload, send) => this._sealed(payload, send),
      open: (sealed, context) => this._open(sealed, context),
      realtime: new Map()
    }
    this.presence = new RTMPresence(this[INTERNALS])
    this.storage = new RTMStorage(this[INTERNALS])
    this.lock = new RTMLock(this[INTERNALS])
    this.history = new RTMHistory(this[INTERNALS])
  }

  /** DOM-like: the same listener once; `once` and `signal` options. */
  addEventListener (eventName: string, listener: (...args: any[]) => void, options?: { once?: boolean, signal?: AbortSignal } | boolean): void {
    if (!EVENTS.has(eventName)) throw invalid('addEventListener', `unknown event type ${JSON.stringify(eventName)}`)
    if (typeof listener !== 'function') throw invalid('addEventListener', 'listener must be a function')
    const o = options !== null && typeof options === 'object' ? options : {}
    if (o.signal?.aborted) return
    if (this.listeners(eventName).includes(listener)) return
    if (o.once) this.once(eventName, listener)
    else this.on(eventName, listener)
    o.signal?.addEventListener('abort', () => this.removeListener(eventName, listener), { once: true })
  }

  removeEventListener (eventName: string, listener: (...args: any[]) => void): void {
    this.removeListener(eventName, listener)
  }

  login (options?: { token?: string }): Promise<LoginResponse> {
    try {
      const o = checkOptions('login', options)
      if (o.token !== undefined && o.token !== null && typeof o.token !== 'string') throw invalid('login', 'token must be a string')
      return this._link.start((o.token as string) || null) as Promise<Answer>
    } catch (e) {
      return Promise.reject(e)
    }
  }

  logout (): Promise<LogoutResponse> {
    return this._link.stop() as Promise<Answer>
  }

  renewToken (token: string, options?: { channelName?: string }): Promise<RenewTokenResponse> {
    return this._call('renewToken', () => {
      checkString('renewToken', token, 'token')
      const o = checkOptions('renewToken', options)
      if (o.channelName !== undefined) checkString('renewToken', o.channelName, 'channelName')
      const frame: Frame = { op: 'renewToken', token }
      if (o.channelName) frame.channel = o.channelName
      return this._link.request('renewToken', frame).then((r) => ({ timestamp: r.timestamp }))
    })
  }

  subscribe (channel: string, options?: Frame): Promise<SubscribeResponse> {
    return this._call('subscribe', () => {
      checkString('subscribe', channel, 'channelName')
      const o = checkOptions('subscribe', options)
      channelName('subscribe', channel)
      return this._link.request('subscribe', {
        op: 'subscribe', channel, withMessage: bool(o.withMessage, true), withPresence: bool(o.withPresence, true),
        beQuiet: bool(o.beQuiet, false), withMetadata: bool(o.withMetadata, false), withLock: bool(o.withLock, false)
      })
    })
  }

  unsubscribe (channel: string): Promise<UnsubscribeResponse> {
    return this._call('unsubscribe', () => {
      checkString('unsubscribe', channel, 'channelName')
      channelName('unsubscribe', channel)
      return this._link.request('unsubscribe', { op: 'unsubscribe', channel })
    })
  }

  publish (channel: string, message: string | Uint8Array | ArrayBuffer, options?: Frame): Promise<PublishResponse> {
    const op = 'publish'
    return this._call(op, () => {
      checkString(op, channel, 'channelName')
      const payload = toPayload(message)
      if (payload === null) throw invalid(op, 'message must be a string, a Uint8Array or an ArrayBuffer')
      const o = checkOptions(op, options)
      const channelType = o.channelType === undefined ? 'MESSAGE' : o.channelType
      if (channelType !== 'MESSAGE' && channelType !== 'USER') {
        throw invalid(op, `channelType must be 'MESSAGE' or 'USER', got ${JSON.stringify(channelType)}`, ErrorCode.RTM_ERROR_INVALID_CHANNEL_TYPE)
      }
      const customType = o.customType === undefined ? '' : o.customType
      checkString(op, customType, 'customType')
      if (channelType === 'USER') userIdName(op, channel)
      else channelName(op, channel)
      checkCustomType(op, customType)
      const messageType = typeof payload === 'string' ? 'STRING' : 'BINARY'
      return this._sealed(bytesOf(payload), (bytes, encrypted) => {
        const max = this._link.maxMessageBytes
        if (bytes.length > max) {
          throw new RTMError(op, ErrorCode.RTM_ERROR_CHANNEL_MESSAGE_LENGTH_EXCEED_LIMITATION,
            `message is ${bytes.length} bytes${encrypted ? ' encrypted' : ''}; at most ${max} are allowed`)
        }
        const frame: Frame = { op: 'publish', channel, channelType, messageType, customType, encrypted, storeInHistory: bool(o.storeInHistory, false) }
        return this._link.request(op, frame, bytes)
      })
    })
  }

  createStreamChannel (channel: string): RTMStreamChannel {
    if (typeof channel !== 'string') throw invalid('createStreamChannel', 'channelName must be a string')
    channelName('createStreamChannel', channel)
    return new RTMStreamChannel(this[INTERNALS], channel)
  }

  joinRealtimeChannel (scope: string): RealtimeChannel {
    const op = 'joinRealtimeChannel'
    if (typeof scope !== 'string') throw invalid(op, 'scope must be a string')
    scopeName(op, scope)
    if (this._link.phase === 'idle') throw invalid(op, 'joinRealtimeChannel needs a logged-in client', ErrorCode.RTM_ERROR_NOT_LOGIN)
    const realtime = this[INTERNALS].realtime
    if (realtime.has(scope)) {
      throw invalid(op, `realtime scope ${JSON.stringify(scope)} is already joined; leave it first`, ErrorCode.RTM_ERROR_DUPLICATE_OPERATION)
    }
    const channel = new RealtimeChannel(this[INTERNALS], scope)
    realtime.set(scope, channel)
    this._link.request(op, { op: 'realtimeJoin', scope }).catch((err) => channel._refused(err))
    return channel
  }

  // ---- internals

  /** Runs a call whose checks may throw: every failure is a rejection. */
  private _call (operation: string, run: () => Promise<Frame>): Promise<Answer> {
    try {
      return run()
    } catch (e) {
      return Promise.reject(e instanceof RTMError ? e : invalid(operation, String(e)))
    }
  }

  /** Seals in call order (WebCrypto is asynchronous); without a cipher sends at once. */
  private _sealed<T> (payload: Uint8Array, send: (bytes: Uint8Array, encrypted: boolean) => Promise<T> | T): Promise<T> {
    const cipher = this._cipher
    if (!cipher) {
      try { return Promise.resolve(send(payload, false)) } catch (e) { return Promise.reject(e) }
    }
    const sealing = cipher.seal(payload)
    const sent = this._sealing.then(() => sealing).then((bytes) => send(bytes, true))
    this._sealing = sent.catch(() => {})
    return sent
  }

  private async _open (sealed: Uint8Array, context: Frame): Promise<Uint8Array | null> {
    let why = 'the payload is encrypted and this client has no cipherKey'
    if (this._cipher) {
      try {
        return await this._cipher.open(sealed)
      } catch (e) {
        why = `could not decrypt the payload: ${(e as Error).message}`
      }
    }
    this._reportDecryption(why, context)
    return null
  }

  private _reportDecryption (reason: string, c: Frame): void {
    const event = {
      errorCode: ErrorCode.RTM_ERROR_CHANNEL_ENCRYPT_MESSAGE_FAILED, reason, channelType: c.channelType ?? '',
      channelName: c.channelName ?? '', topicName: c.topicName ?? '', publisher: c.publisher ?? '', timestamp: Date.now()
    }
    if (!this.emit('error', event)) {
      console.warn(`piazza-rtc/web: ${codeName(event.errorCode)}: ${reason} (${event.channelType} ${event.channelName}, from ${event.publisher || 'unknown'})`)
    }
  }

  private _onLinkState (e: LinkStateEvent): void {
    this.emit('linkState', e)
    this.emit('status', { state: STATUS_OF_LINK[e.currentState], reason: e.reasonCode, timestamp: e.timestamp })
  }

  private async _onEvent (f: Frame, payload: Uint8Array | null): Promise<void> {
    switch (f.t) {
      case 'msg': {
        if (!payload) return
        const e = f.e as Frame
        let bytes: Uint8Array | null = payload
        if (f.enc) bytes = await this._open(payload, e)
        if (!bytes) return
        let message: string | Uint8Array = bytes.slice()
        if (f.mt !== 'BINARY') {
          try { message = fromUtf8(bytes) } catch {
            if (f.enc) this._reportDecryption('the decrypted STRING message is not UTF-8', e)
            return
          }
        }
        this.emit('message', { ...e, message })
        return
      }
      case 'rt': {
        const channel = this[INTERNALS].realtime.get(f.scope)
        if (!payload || !channel) return
        const data = f.enc ? await this._open(payload, { channelType: 'REALTIME', channelName: f.scope, publisher: '' }) : payload.slice()
        if (data && channel._listener) {
          try { channel._listener(data) } catch (err) { reportListenerError(err, 'realtime') }
        }
        return
      }
      case 'token': {
        const e = f.e as Frame
        this.emit('token', { eventType: e.eventType, reason: e.reason, affectedResources: e.affectedResources, timestamp: e.timestamp })
        if (e.eventType === 'WILL_EXPIRE') this.emit('tokenPrivilegeWillExpire', e.channelName)
        return
      }
      case 'presence': case 'topic': case 'storage': case 'lock':
        this.emit(f.t, f.e)
    }
  }
}

