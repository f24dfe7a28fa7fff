// Type test of `piazza-rtc/webxdc` (webxdc.d.ts): a webxdc app's realtime code compiles against
// PiazzaWebxdc, and misuse does not (each @ts-expect-error line must be an error).
import { RTM, RTMError } from 'piazza-rtc'
import { createWebxdc, PiazzaWebxdc, RealtimeListener, WebxdcRealtimeChannel, MAX_REALTIME_BYTES } from 'piazza-rtc/webxdc'

function app (webxdc: PiazzaWebxdc): void {
  if (webxdc.joinRealtimeChannel === undefined) return // the spec's availability check
  const realtimeChannel: RealtimeListener = webxdc.joinRealtimeChannel()
  realtimeChannel.setListener((data: Uint8Array) => { void new TextDecoder().decode(data) })
  realtimeChannel.send(new TextEncoder().encode(`hello from ${webxdc.selfAddr} (${webxdc.selfName})`))
  realtimeChannel.leave()
  // @ts-expect-error: the scope is given to createWebxdc, not to joinRealtimeChannel
  webxdc.joinRealtimeChannel('scope')
  // @ts-expect-error: send takes a Uint8Array
  realtimeChannel.send('text')
  // @ts-expect-error: selfAddr is read-only
  webxdc.selfAddr = 'x'
}

const rtm = new RTM('app', 'alice', {})
const webxdc = createWebxdc(rtm, 'chat-42', {
  selfName: 'Alice',
  onError: (err: RTMError, channel: WebxdcRealtimeChannel) => { void [err.errorCode, channel.error] },
})
app(webxdc)
const channel = webxdc.joinRealtimeChannel()
const refused: RTMError | null = channel.error
const max: number = MAX_REALTIME_BYTES
void [refused, max]
void webxdc.setUpdateListener(() => {}).catch((e: unknown) => e)
// @ts-expect-error: onError is a function
createWebxdc(rtm, 'chat-42', { onError: 1 })
// @ts-expect-error: the scope is a string
createWebxdc(rtm, 42)
