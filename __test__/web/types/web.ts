// Type test of piazza-rtc/web in a browser project (DOM lib, no @types/node): the README's
// browser example compiles, with the same types as the Node package.
import {
  RTM, TRTCCloud, TRTCAppScene, TRTCRoleType, ErrorCode, RTMError, createWebxdc,
  type RTMEvents, type SubscribeResponse, type WhoNowResponse, type TRTCExitReason, type GetMessagesResponse
} from 'piazza-rtc/web'

async function main (): Promise<void> {
  const rtm = new RTM('my-app', 'alice', { endpoint: 'ws://127.0.0.1:7700', encryptionMode: 'AES_256_GCM', cipherKey: 'k', salt: new Uint8Array(32) })
  rtm.addEventListener('message', (e: RTMEvents.MessageEvent) => { const m: string | Uint8Array = e.message; void m })
  rtm.on('presence', (e) => { const t: string = e.eventType; void t })
  rtm.on('linkState', (e) => { const s: 'CONNECTED' | string = e.currentState; void s })
  await rtm.login({ token: 'token' })
  const sub: SubscribeResponse = await rtm.subscribe('lobby', { withPresence: true })
  await rtm.publish(sub.channelName, new Uint8Array([1, 2]), { customType: 'bin' })
  const who: WhoNowResponse = await rtm.presence.whoNow('lobby', 'MESSAGE')
  const history: GetMessagesResponse = await rtm.history.getMessages('lobby', 'MESSAGE', { messageCount: 10 })
  void who; void history
  const st = rtm.createStreamChannel('stage')
  await st.join()
  await st.joinTopic('t1', { meta: 'x' })
  await st.publishTopicMessage('t1', 'hi')
  const ch = rtm.joinRealtimeChannel('scope')
  ch.setListener((data: Uint8Array) => void data)
  const webxdc = createWebxdc(rtm, 'app-scope')
  webxdc.joinRealtimeChannel().send(new Uint8Array(1))
  try { await rtm.subscribe('') } catch (e) { if (e instanceof RTMError && e.errorCode === ErrorCode.RTM_ERROR_INVALID_CHANNEL_NAME) void e.reason }

  const trtc = new TRTCCloud({ endpoint: 'ws://127.0.0.1:7700' })
  trtc.on('onExitRoom', (reason: TRTCExitReason) => void reason)
  trtc.on('onRecvCustomCmdMsg', (userId, cmdId, seq, data) => void [userId, cmdId, seq, data])
  trtc.enterRoom({ sdkAppId: 1400000001, userId: 'alice', strRoomId: 'lobby', role: TRTCRoleType.TRTCRoleAnchor }, TRTCAppScene.TRTCAppSceneVideoCall)
  const sent: boolean = trtc.sendCustomCmdMsg(1, 'hello', true, true)
  void sent
  trtc.exitRoom()
  // @ts-expect-error: not a known event
  rtm.addEventListener('nope', () => {})
}
void main
