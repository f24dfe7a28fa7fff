'use strict'
// piazza-rtc/rtm: agora-rtm-sdk 2.x's default export (`AgoraRTM`) over Piazza, so SDK code
// runs with only its import changed: `const AgoraRTM = require('piazza-rtc/rtm')`,
// `const { RTM } = AgoraRTM`. See lib/agora.js; types: rtm.d.ts.
module.exports = require('./lib/agora').AgoraRTM
