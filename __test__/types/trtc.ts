// Type test of piazza-rtc/trtc: trtc-electron-sdk code with only the import changed.
import TRTCCloud, { TRTCParams, TRTCAppScene, TRTCRoleType, TRTCSwitchRoomParam, TXLiteAVError, TRTCWarningCode } from 'piazza-rtc/trtc'
import type { TRTCInitConfig } from 'piazza-rtc/trtc'
import { once } from 'events'
import * as piazza from 'piazza-rtc'

// Seed 004 (exiting a room), as written for trtc-electron-sdk.
const trtcCloud = new TRTCCloud()
trtcCloud.exitRoom()
function onExitRoom (reason: number): void {
  console.log(`onExitRoom reason: ${reason}`)
}
trtcCloud.on('onExitRoom', onExitRoom)

// The SDK's usual entry: a TRTCParams instance, the shared instance.
const config: TRTCInitConfig = { isIPCMode: false, endpoint: 'ws://127.0.0.1:1' }
const rtcCloud: TRTCCloud = TRTCCloud.getTRTCShareInstance(config)
const param = new TRTCParams()
param.sdkAppId = 1400000001
param.userId = 'alice'
param.userSig = ''
param.roomId = 0
param.strRoomId = 'lobby #1 (EU)'
param.role = TRTCRoleType.TRTCRoleAnchor
rtcCloud.enterRoom(param, TRTCAppScene.TRTCAppSceneVideoCall)
rtcCloud.switchRoom(new TRTCSwitchRoomParam(7, '', 'sig'))
rtcCloud.on('onEnterRoom', (result: number) => console.log(result))
rtcCloud.on('onWarning', (code: number, message: string) => {
  if (code === TRTCWarningCode.WARNING_USER_SIG_WILL_EXPIRE) rtcCloud.renewUserSig('new sig')
  console.log(message)
})
rtcCloud.on('onUserVideoAvailable', (userId: string, available: number) => console.log(userId, available))
rtcCloud.once('onError', (code: number) => console.log(code === TXLiteAVError.ERR_SERVER_SSO_SIG_EXPIRED))
rtcCloud.removeAllListeners('onStatistics')
const count: number = rtcCloud.listenerCount('onEnterRoom')
async function entered (): Promise<number> {
  const [result] = await once(rtcCloud, 'onEnterRoom')
  return result as number
}
void entered
void count
TRTCCloud.destroyTRTCShareInstance()

// The same class from the main entry.
const same: typeof piazza.TRTCCloud = TRTCCloud
void same
