// piazza-rtc/trtc as ESM: `import TRTCCloud, { TRTCParams, TRTCAppScene } from 'piazza-rtc/trtc'`,
// as from trtc-electron-sdk. The same module as trtc.js.
import TRTCCloud from './trtc.js'

export const {
  TRTCAppScene, TRTCRoleType, TRTCParams, TRTCSwitchRoomParam, TRTCErrorCode, TRTCWarningCode, TXLiteAVError, TXLiteAVWarning,
} = TRTCCloud
export { TRTCCloud }
export default TRTCCloud
