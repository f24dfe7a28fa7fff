'use strict'
// lib/trtc-callbacks.js: every callback name trtc-electron-sdk declares (the `@event
// TRTCCallback#…` tags of liteav/trtc.d.ts in trtc-electron-sdk 13.3.801, in its order), and
// which of them Piazza fires. TRTCCloud is an EventEmitter, so registering any name works; the
// names Piazza does not fire are those about audio, video, devices, screens, CDN, recording and
// speed tests: an app may listen for them, they never come. __test__/trtc-compat.test.js checks
// this list against the d.ts (read from node_modules when the package is installed).

/** Every TRTCCallback name of trtc-electron-sdk 13.3.801. */
const TRTC_CALLBACKS = Object.freeze([
  'onError', 'onWarning', 'onEnterRoom', 'onExitRoom', 'onSwitchRoom', 'onSwitchRole', 'onConnectOtherRoom',
  'onDisconnectOtherRoom', 'onRemoteUserEnterRoom', 'onRemoteUserLeaveRoom', 'onUserVideoAvailable',
  'onUserSubStreamAvailable', 'onUserAudioAvailable', 'onFirstVideoFrame', 'onFirstAudioFrame',
  'onSendFirstLocalVideoFrame', 'onSendFirstLocalAudioFrame', 'onUserEnter', 'onUserExit', 'onNetworkQuality',
  'onStatistics', 'onConnectionLost', 'onTryToReconnect', 'onConnectionRecovery', 'onSpeedTest', 'onSpeedTestResult',
  'onCameraDidReady', 'onMicDidReady', 'onUserVoiceVolume', 'onDeviceChange', 'onTestMicVolume', 'onTestSpeakerVolume',
  'onAudioDeviceCaptureVolumeChanged', 'onAudioDevicePlayoutVolumeChanged', 'onRecvCustomCmdMsg', 'onMissCustomCmdMsg',
  'onRecvSEIMsg', 'onStartPublishing', 'onStopPublishing', 'onStartPublishCDNStream', 'onStopPublishCDNStream',
  'onSetMixTranscodingConfig', 'onStartPublishMediaStream', 'onUpdatePublishMediaStream', 'onStopPublishMediaStream',
  'onCdnStreamStateChanged', 'onAudioEffectFinished', 'onScreenCaptureCovered', 'onScreenCaptureStarted',
  'onScreenCapturePaused', 'onScreenCaptureResumed', 'onScreenCaptureStopped', 'onSnapshotComplete',
  'onLocalRecordBegin', 'onLocalRecording', 'onLocalRecordComplete', 'onSystemAudioLoopbackError',
])

/** The callbacks Piazza fires (signaling); the others of TRTC_CALLBACKS never fire. */
const FIRED_CALLBACKS = Object.freeze([
  'onEnterRoom', 'onExitRoom', 'onRemoteUserEnterRoom', 'onRemoteUserLeaveRoom', 'onError', 'onWarning',
  'onSwitchRole', 'onSwitchRoom', 'onConnectionLost', 'onTryToReconnect', 'onConnectionRecovery',
  'onRecvCustomCmdMsg', 'onMissCustomCmdMsg',
])

module.exports = { TRTC_CALLBACKS, FIRED_CALLBACKS }
