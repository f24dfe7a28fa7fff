'use strict'
// Web mode only: the `webxdc.js` of a webxdc app's sandboxed <iframe> (web.js serves it as
// /webxdc/<app>/webxdc.js; the frame has no network: connect-src 'none'). It provides
// `window.webxdc` — only the realtime API — over postMessage to the page that embeds it, which
// runs the calls on the person's createWebxdc(rtm, scope) (renderer/web-bridge.js,
// lib/webxdc-frame.js). selfAddr and selfName come in the frame URL's fragment. In Electron,
// webxdc-preload.js provides the same window.webxdc over IPC.
//
// webxdc's rules hold here, synchronously: a second joinRealtimeChannel() without leave()
// throws, setListener replaces, send takes a Uint8Array of at most 128000 bytes, and a left
// channel throws on any use.
;(() => {
  const self = new URLSearchParams(location.hash.slice(1))
  const MAX_BYTES = 128000
  /** @param {unknown} message */
  const post = (message) => window.parent.postMessage(message, '*')
  /** The joined channel's state, or null. @type {{ listener: ((data: Uint8Array) => void) | null, left: boolean } | null} */
  let current = null
  window.addEventListener('message', (message) => {
    if (message.source !== window.parent) return
    const { event, payload } = message.data || {}
    if (event === 'error') console.error(`webxdc: ${payload && payload.message}`)
    else if (event === 'data' && payload instanceof Uint8Array && current && current.listener) current.listener(payload)
  })

  function joinRealtimeChannel () {
    if (current) throw new Error('joinRealtimeChannel: the realtime channel is already joined; leave() it first')
    /** @type {{ listener: ((data: Uint8Array) => void) | null, left: boolean }} */
    const state = { listener: null, left: false }
    current = state
    post({ op: 'join' })
    const check = () => { if (state.left) throw new Error('this realtime channel was left; call webxdc.joinRealtimeChannel() again') }
    return {
      /** @param {(data: Uint8Array) => void} listener */
      setListener (listener) {
        check()
        if (typeof listener !== 'function') throw new TypeError('listener must be a function')
        state.listener = listener
      },
      /** @param {Uint8Array} data */
      send (data) {
        check()
        if (!(data instanceof Uint8Array)) throw new TypeError('data must be a Uint8Array')
        if (data.length > MAX_BYTES) throw new RangeError(`data is ${data.length} bytes; at most ${MAX_BYTES} are allowed`)
        post({ op: 'send', data: data.slice() })
      },
      leave () {
        check()
        state.left = true
        state.listener = null
        current = null
        post({ op: 'leave' })
      }
    }
  }

  window.webxdc = Object.freeze({ selfAddr: self.get('selfAddr') || '', selfName: self.get('selfName') || '', joinRealtimeChannel })
})()
