'use strict'
// Piazza's public JavaScript API: a thin, typed layer over the generated binding (binding.js).
// The binding is mechanical (Rust classes, JSON in, JSON out); the modules under lib/ give it
// the shapes of the SDKs Piazza replaces: RTM (agora-rtm-sdk 2.x), TRTCCloud, webxdc realtime
// channels. Types: index.d.ts (checked against these exports by __test__/exports.test.js).
// Event path: native batches -> one JSON.parse -> listeners (RTM#_drain in lib/rtm.js,
// TRTCCloud#_drain in lib/trtc.js).
//
//   lib/native.js     loads the native addon (the only module that does)
//   lib/platform.js   which platform package serves this machine; the error when none does
//   lib/errors.js     error table, ErrorCode, TRTCErrorCode, RTMError, PiazzaAdminError, checks
//   lib/constants.js  ChannelType, MessageType, LinkState, PresenceEventType, TopicEventType
//   lib/keepalive.js  holding the process alive, listener calls
//   lib/link.js       the internal interface of an RTM client (rtm[LINK])
//   lib/server.js     Server
//   lib/rtm.js        RTM (the client)
//   lib/agora.js      the agora-rtm-sdk-shaped default export of `piazza-rtc/rtm` (rtm.js)
//   lib/presence.js   RTMPresence
//   lib/storage.js    RTMStorage (channel and user metadata)
//   lib/lock.js       RTMLock
//   lib/history.js    RTMHistory
//   lib/stream.js     RTMStreamChannel
//   lib/realtime.js   RealtimeChannel
//   lib/webxdc.js     createWebxdc (window.webxdc's realtime API; entry `piazza-rtc/webxdc`: webxdc.js)
//   lib/trtc.js       TRTCCloud, TRTCAppScene, TRTCRoleType, TRTCParams, TRTCSwitchRoomParam, TRTCWarningCode
//   lib/trtc-callbacks.js  the TRTC callback names (trtc-electron-sdk's, and those Piazza fires)
//   lib/token.js      generateToken
//   lib/logging.js    setLogger (log records to the app instead of stderr)

const native = require('./lib/native')
const { ErrorCode, TRTCErrorCode, RTMError, PiazzaAdminError, errorTable } = require('./lib/errors')
const { ChannelType, MessageType, LinkState, PresenceEventType, TopicEventType } = require('./lib/constants')
const { Server } = require('./lib/server')
const { RTM } = require('./lib/rtm')
const { RTMPresence } = require('./lib/presence')
const { RTMStorage } = require('./lib/storage')
const { RTMLock } = require('./lib/lock')
const { RTMHistory } = require('./lib/history')
const { RTMStreamChannel } = require('./lib/stream')
const { RealtimeChannel } = require('./lib/realtime')
const { TRTCCloud, TRTCAppScene, TRTCRoleType, TRTCParams, TRTCSwitchRoomParam, TRTCWarningCode } = require('./lib/trtc')
const { generateToken } = require('./lib/token')
const { setLogger } = require('./lib/logging')

module.exports = {
  generateToken,
  Server,
  RTM,
  RTMClient: RTM,
  RTMError,
  RTMStreamChannel,
  RTMPresence,
  RTMStorage,
  RTMLock,
  RTMHistory,
  RealtimeChannel,
  ErrorCode,
  TRTCErrorCode,
  TRTCCloud,
  TRTCAppScene,
  TRTCRoleType,
  TRTCParams,
  TRTCSwitchRoomParam,
  TRTCWarningCode,
  PiazzaAdminError,
  ChannelType,
  MessageType,
  LinkState,
  PresenceEventType,
  TopicEventType,
  errorTable,
  setLogger,
  version: native.version(),
}
