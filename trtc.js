'use strict'
// piazza-rtc/trtc: the module shape of trtc-electron-sdk, so a TRTC Electron app runs with only
// its import changed (`import TRTCCloud from 'piazza-rtc/trtc'`). As the SDK's main module, the
// default export is TRTCCloud and the enums and classes come alongside: here module.exports is
// TRTCCloud itself (so `require('piazza-rtc/trtc')` is the class), with `default`, `TRTCCloud`,
// the enums, TRTCParams, TRTCSwitchRoomParam and the code tables (TXLiteAVError and
// TXLiteAVWarning as the SDK names them) as properties, and `__esModule` so that
// bundlers and TypeScript's `import TRTCCloud from` take `default`. ESM: trtc.mjs.
const { TRTCCloud, TRTCAppScene, TRTCRoleType, TRTCParams, TRTCSwitchRoomParam, TRTCWarningCode } = require('./lib/trtc')
const { TRTCErrorCode } = require('./lib/errors')

const alongside = {
  TRTCCloud,
  default: TRTCCloud,
  TRTCAppScene,
  TRTCRoleType,
  TRTCParams,
  TRTCSwitchRoomParam,
  TRTCErrorCode,
  TRTCWarningCode,
  TXLiteAVError: TRTCErrorCode,
  TXLiteAVWarning: TRTCWarningCode,
}
for (const [name, value] of Object.entries(alongside)) {
  if (!Object.prototype.hasOwnProperty.call(TRTCCloud, name)) {
    Object.defineProperty(TRTCCloud, name, { value, enumerable: true, writable: false, configurable: false })
  }
}
if (!Object.prototype.hasOwnProperty.call(TRTCCloud, '__esModule')) {
  Object.defineProperty(TRTCCloud, '__esModule', { value: true })
}

module.exports = TRTCCloud
