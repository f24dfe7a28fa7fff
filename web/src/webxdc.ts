// createWebxdc for the browser (lib/webxdc.js): the realtime part of `window.webxdc` over one
// RTM client and one realtime scope. A refused join never throws out of joinRealtimeChannel: it
// goes to options.onError and the channel's `error`; the parts of webxdc that are not realtime
// refuse with RTM_ERROR_SERVICE_NOT_SUPPORTED.

import { ErrorCode, RTMError, invalid, reportListenerError } from './errors'
import { RTM } from './rtm'
import type { RealtimeChannel } from './realtime'

const NOT_REALTIME = ['sendUpdate', 'setUpdateListener', 'getAllUpdates', 'sendToChat', 'importFiles']
const notSupported = (method: string): RTMError => invalid(method,
  `webxdc.${method} is not supported by Piazza: only the realtime API (joinRealtimeChannel) is`, ErrorCode.RTM_ERROR_SERVICE_NOT_SUPPORTED)

interface Owner { scope: string, onError: ((err: RTMError, channel: WebxdcRealtimeChannel) => void) | null, current: WebxdcRealtimeChannel | null }

class WebxdcRealtimeChannel {
  error: RTMError | null = null
  private left = false
  constructor (private readonly owner: Owner, private readonly inner: RealtimeChannel | null) {}

  private check (operation: string): void {
    if (this.left) throw invalid(operation, 'this realtime channel was left; call webxdc.joinRealtimeChannel() again', ErrorCode.RTM_ERROR_CHANNEL_NOT_JOINED)
    if (this.error) throw this.error
  }

  setListener (listener: ((data: Uint8Array) => void) | null): void {
    this.check('setListener')
    if (listener !== null && typeof listener !== 'function') throw invalid('setListener', 'listener must be a function')
    this.inner?.setListener(listener)
  }

  send (data: Uint8Array): void {
    this.check('send')
    this.inner?.send(data)
  }

  leave (): void {
    if (this.left) this.check('leave')
    this.left = true
    if (this.owner.current === this) this.owner.current = null
    if (!this.error && this.inner) this.inner.leave()
  }

  /** @internal */
  _refuse (err: RTMError): boolean {
    if (this.left || this.error) return false
    this.error = err
    if (this.owner.current === this) this.owner.current = null
    return true
  }

  /** @internal */
  _report (err: RTMError): void {
    if (!this.owner.onError) return console.warn(`piazza-rtc/web: webxdc: joining realtime channel ${JSON.stringify(this.owner.scope)} failed: ${err.message}`)
    try { this.owner.onError(err, this) } catch (e) { reportListenerError(e, 'onError callback') }
  }
}

export function createWebxdc (rtm: RTM, scope: string, options: { selfName?: string, onError?: Owner['onError'] } = {}): Record<string, unknown> {
  const op = 'createWebxdc'
  if (!(rtm instanceof RTM)) throw invalid(op, 'rtm must be an RTM client')
  if (typeof scope !== 'string' || scope === '') throw invalid(op, 'scope must be a non-empty string')
  if (options === null || typeof options !== 'object') throw invalid(op, 'options must be an object')
  if (options.selfName !== undefined && typeof options.selfName !== 'string') throw invalid(op, 'options.selfName must be a string')
  if (options.onError !== undefined && typeof options.onError !== 'function') throw invalid(op, 'options.onError must be a function')
  const owner: Owner = { scope, onError: options.onError ?? null, current: null }
  const webxdc: Record<string, unknown> = {
    selfAddr: rtm.userId,
    selfName: options.selfName ?? rtm.userId,
    joinRealtimeChannel (...args: unknown[]): WebxdcRealtimeChannel {
      if (args.length > 0) throw invalid('joinRealtimeChannel', 'joinRealtimeChannel takes no argument: the scope is given to createWebxdc')
      if (owner.current) throw invalid('joinRealtimeChannel', 'the realtime channel is already joined; leave() it first', ErrorCode.RTM_ERROR_DUPLICATE_OPERATION)
      let inner: RealtimeChannel | null = null
      let refusal: RTMError | null = null
      try {
        inner = rtm.joinRealtimeChannel(scope)
      } catch (err) {
        if (!(err instanceof RTMError) || err.errorCode === ErrorCode.RTM_ERROR_DUPLICATE_OPERATION) throw err
        refusal = err
      }
      const channel = new WebxdcRealtimeChannel(owner, inner)
      owner.current = channel
      if (inner) {
        inner._onRefused = (err) => { if (channel._refuse(err)) channel._report(err) }
      } else if (refusal) {
        const err = refusal
        channel._refuse(err)
        queueMicrotask(() => channel._report(err))
      }
      return channel
    }
  }
  for (const method of NOT_REALTIME) {
    webxdc[method] = method === 'sendUpdate' ? () => { throw notSupported(method) } : () => Promise.reject(notSupported(method))
  }
  return webxdc
}
