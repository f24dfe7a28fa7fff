'use strict'
// `piazza-rtc/webxdc`: the realtime part of webxdc's `window.webxdc` over an RTM client
// (lib/webxdc.js). Types: webxdc.d.ts.
const { createWebxdc, WebxdcRealtimeChannel, MAX_REALTIME_BYTES } = require('./lib/webxdc')

module.exports = { createWebxdc, WebxdcRealtimeChannel, MAX_REALTIME_BYTES }
