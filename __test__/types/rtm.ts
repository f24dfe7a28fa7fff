// Type test of `piazza-rtc/rtm` (rtm.d.ts) and of the client as an EventEmitter: agora-rtm-sdk
// code compiles with only its import changed, and misuse does not (each @ts-expect-error line
// must be an error).
import { once, on } from 'events'
import AgoraRTM, { RTMConfig, RTMClient, RTMBaseError, RTMEvents, ConstantsType, IAgoraRTM } from 'piazza-rtc/rtm'
import { RTM as PiazzaRTM } from 'piazza-rtc'

const { RTM, EncryptionMode, constantsType } = AgoraRTM
const config: RTMConfig = {
  endpoint: 'ws://127.0.0.1:7700',
  encryptionMode: EncryptionMode.AES_256_GCM,
  presenceTimeout: 300,
  logUpload: true,
  cloudProxy: false,
  useStringUserId: false,
  heartbeatInterval: 5,
  tls: false,
  privateConfig: { serviceType: ['MESSAGE', 'STREAM'], accessPointHosts: ['127.0.0.1:7700', 'wss://rtm.example'], domainMode: 1 },
}
const rtm: RTMClient = new RTM('yourAppId', 'Tony', config)
const base: PiazzaRTM = rtm
void base

async function events (signal: AbortSignal): Promise<void> {
  rtm.on('message', (event: RTMEvents.MessageEvent) => { void event.publisher })
  rtm.once('linkState', (event) => { const s: string = event.currentState; void s })
  rtm.off('status', () => {})
  rtm.addEventListener('presence', (event) => { void event.eventType }, { once: true, signal })
  rtm.addEventListener('tokenPrivilegeWillExpire', (channelName: string) => { void channelName }, true)
  const n: number = rtm.listenerCount('message')
  void n
  await once(rtm, 'linkState')
  for await (const [event] of on(rtm, 'message', { signal })) void event
  // @ts-expect-error: not an event of the client
  rtm.on('mesage', () => {})
  // @ts-expect-error: a message event is not a string
  rtm.on('message', (event: string) => { void event })
  // @ts-expect-error: once and signal only
  rtm.addEventListener('message', () => {}, { capture: 1 })
}
void events

const bytes = new ArrayBuffer(4)
void rtm.publish('my_channel', bytes)
void rtm.createStreamChannel('Location').publishTopicMessage('Gesture', bytes)

const version: string = AgoraRTM.VERSION + AgoraRTM.BUILD
const heartbeat: number = AgoraRTM.getParameter('HEART_BEAT')
const hosts: string[] | undefined = AgoraRTM.getParameter('AP_DOMAIN_LIST')
AgoraRTM.setParameter('AP_DOMAIN_LIST', ['localhost:7700'])
AgoraRTM.setParameter('PRESENCE_TIMEOUT', null)
AgoraRTM.setArea({ areaCodes: [constantsType.AreaCode.GLOBAL], excludedArea: 'CHINA' })
const stream: 2 = constantsType.ChannelTypeEnum.STREAM
const reason: number = constantsType.LinkStateChangeReason4Report.SAME_UID_LOGIN
const constants: ConstantsType = constantsType
const sdk: IAgoraRTM = AgoraRTM
void [version, heartbeat, hosts, stream, reason, constants, sdk]
try { void 0 } catch (e) { if (e instanceof AgoraRTM.RTMBaseError) { const err: RTMBaseError = e; void err.errorCode } }
// @ts-expect-error: a parameter that does not apply
AgoraRTM.setParameter('LOG_UPLOAD', true)
// @ts-expect-error: HEART_BEAT is a number
AgoraRTM.setParameter('HEART_BEAT', '5')
// @ts-expect-error: not an area
AgoraRTM.setArea({ areaCodes: ['MARS'] })
// @ts-expect-error: the default export is frozen
AgoraRTM.VERSION = 'x'
