'use strict'
// lib/link.js: the key of the internal interface between an RTM client and the objects that
// work through it: RTMPresence, RTMStorage, RTMLock, RTMHistory, RTMStreamChannel and
// RealtimeChannel (one client each).
// (TRTCCloud used it too; its rooms now run in the engine, behind NativeTrtc.)
//
// They need more of a client than its public API, and used to reach into its private fields
// (`_request`, `_native.send`, `_native.linkState()`, `_onRoomEvent`, `_realtime`). Now they use
// `rtm[LINK]`: a frozen object under a non-enumerable Symbol key, made by the RTM constructor
// (lib/rtm.js, where each method is documented). Its methods are the whole contract:
//
//   request(operation, submit)           a request: submit(native, tag) calls the typed native
//                                        method (native.whoNow(tag, …)); Promise of the answer
//   realtimeSend(scope, data)            a realtime datagram; null or error JSON
//   linkState()                          'IDLE' | 'CONNECTING' | 'CONNECTED' | …
//   forgetRealtime(scope, channel)       unregisters a realtime channel that was left
//
// Not part of the public API (index.d.ts does not declare it); the symbol is not exported.

/** The key of an RTM client's internal interface: `rtm[LINK]`. */
const LINK = Symbol('piazza.link')

module.exports = { LINK }
