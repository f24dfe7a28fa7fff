// ESM entry of `piazza-rtc/webxdc`: the same module as webxdc.js.
import webxdc from './webxdc.js'

export const { createWebxdc, WebxdcRealtimeChannel, MAX_REALTIME_BYTES } = webxdc
export default webxdc
