// Types of piazza-rtc/trtc (trtc.js, trtc.mjs): trtc-electron-sdk's module shape — TRTCCloud as
// the default export, the enums, classes and code tables alongside. The types are index.d.ts's.

import { TRTCCloud, TRTCErrorCode, TRTCWarningCode } from './index'

export {
  TRTCCloud, TRTCAppScene, TRTCRoleType, TRTCParams, TRTCSwitchRoomParam, TRTCErrorCode, TRTCWarningCode,
} from './index'
export type {
  TRTCSwitchRoomParams, TRTCInitConfig, TRTCCloudOptions, TRTCCallbacks, TRTCEventName, TRTCExitReason,
  TRTCRemoteLeaveReason, TRTCErrorCodeName, TRTCCallbackName, TRTCEventArgs,
} from './index'

/** trtc-electron-sdk's name of TRTCErrorCode. */
export declare const TXLiteAVError: typeof TRTCErrorCode
/** trtc-electron-sdk's name of TRTCWarningCode. */
export declare const TXLiteAVWarning: typeof TRTCWarningCode

export default TRTCCloud
