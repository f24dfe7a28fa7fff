// A webxdc-style realtime channel of the browser client (lib/realtime.js): best-effort
// datagrams to the members of a scope connected now; sealed when encryption is on.

import type { RealtimeChannel as RealtimeChannelApi } from '../../common'
import { encodeBinary } from './bytes'
import { ErrorCode, RTMError, invalid } from './errors'
import type { RtmInternals } from './rtm'

export const MAX_REALTIME_BYTES = 128000

export class RealtimeChannel implements RealtimeChannelApi {
  /** @internal */
  _listener: ((data: Uint8Array) => void) | null = null
  /** @internal Called instead of a console warning when the join is refused (webxdc). */
  _onRefused: ((err: RTMError) => void) | null = null
  private left = false

  constructor (private readonly rtm: RtmInternals, readonly scope: string) {}

  private check (operation: string): void {
    if (this.left) throw invalid(operation, `the realtime channel ${JSON.stringify(this.scope)} was left; join again for a new one`, ErrorCode.RTM_ERROR_CHANNEL_NOT_JOINED)
  }

  setListener (listener: ((data: Uint8Array) => void) | null): void {
    this.check('setListener')
    if (listener !== null && typeof listener !== 'function') throw invalid('setListener', 'listener must be a function')
    this._listener = listener
  }

  send (data: Uint8Array): void {
    this.check('send')
    if (!(data instanceof Uint8Array)) throw invalid('send', 'data must be a Uint8Array')
    if (data.length > MAX_REALTIME_BYTES) {
      throw invalid('send', `data is ${data.length} bytes; at most ${MAX_REALTIME_BYTES} are allowed`, ErrorCode.RTM_ERROR_CHANNEL_MESSAGE_LENGTH_EXCEED_LIMITATION)
    }
    const link = this.rtm.link
    if (link.phase !== 'loggedIn') throw invalid('send', 'send needs a logged-in client', ErrorCode.RTM_ERROR_NOT_LOGIN)
    const scope = this.scope
    void this.rtm.sealed(data.slice(), (bytes, encrypted) => {
      const header = encrypted ? { op: 'realtimeSend', scope, encrypted } : { op: 'realtimeSend', scope }
      try { link.sendUnanswered('realtimeSend', encodeBinary(header, bytes)) } catch { /* logged out meanwhile */ }
    })
  }

  leave (): void {
    this.check('leave')
    this.left = true
    this._listener = null
    if (this.rtm.realtime.get(this.scope) === this) this.rtm.realtime.delete(this.scope)
    this.rtm.link.request('leaveRealtimeChannel', { op: 'realtimeLeave', scope: this.scope }).catch(() => {})
  }

  /** @internal The join was refused. */
  _refused (err: RTMError): void {
    if (this.rtm.realtime.get(this.scope) === this) this.rtm.realtime.delete(this.scope)
    this.left = true
    this._listener = null
    if (this._onRefused) return this._onRefused(err)
    if (err.errorCode === ErrorCode.RTM_ERROR_NOT_LOGIN) return
    console.warn(`piazza-rtc/web: joining realtime channel ${JSON.stringify(this.scope)} failed: ${err.message}`)
  }
}
