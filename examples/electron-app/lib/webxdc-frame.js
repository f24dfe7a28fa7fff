'use strict'
// The main-process end of a webxdc app's frame: the frame's `window.webxdc` (webxdc-preload.js
// in Electron, renderer/webxdc-web-bridge.js in web mode) forwards join / send / leave here, and
// this runs them on the person's `createWebxdc(rtm, scope)` object (piazza-rtc/webxdc). Data
// from the peers and refused joins go back through `send(event, payload)`. No Electron here.
//
// The frame enforces webxdc's rules itself (second join throws, 128000 bytes, leave
// invalidates), synchronously as the spec wants; this end enforces them again, since a frame
// is not trusted.

/** The webxdc apps the sample hosts (folders of webxdc-apps/). */
const WEBXDC_APPS = new Set(['whiteboard'])

class WebxdcFrame {
  /**
   * @param {import('piazza-rtc/webxdc').PiazzaWebxdc} webxdc
   * @param {(event: 'data' | 'error', payload: Uint8Array | { message: string }) => void} send
   */
  constructor (webxdc, send) {
    this.webxdc = webxdc
    this.send = send
    /** @type {import('piazza-rtc/webxdc').WebxdcRealtimeChannel | null} */
    this.channel = null
  }

  /** What the frame's window.webxdc shows before any call. */
  self () {
    return { selfAddr: this.webxdc.selfAddr, selfName: this.webxdc.selfName }
  }

  /**
   * One call from the frame: 'join', 'send' (data: Uint8Array) or 'leave'.
   * @param {string} op
   * @param {unknown} [data]
   */
  call (op, data) {
    switch (op) {
      case 'join': {
        const channel = this.webxdc.joinRealtimeChannel()
        this.channel = channel
        // A refusal may already be known (not logged in): onError reports it (see open()).
        if (!channel.error) channel.setListener((bytes) => this.send('data', bytes))
        return
      }
      case 'send':
        if (!this.channel) throw new Error('not joined')
        if (!(data instanceof Uint8Array)) throw new Error('data must be a Uint8Array')
        this.channel.send(data)
        return
      case 'leave':
        if (this.channel) this.channel.leave()
        this.channel = null
        return
      default:
        throw new Error(`unknown webxdc call ${JSON.stringify(op)}`)
    }
  }

  /** The frame went away: leave its channel. */
  close () {
    const channel = this.channel
    this.channel = null
    if (channel && !channel.error) {
      try { channel.leave() } catch { /* already left */ }
    }
  }
}

module.exports = { WebxdcFrame, WEBXDC_APPS }
