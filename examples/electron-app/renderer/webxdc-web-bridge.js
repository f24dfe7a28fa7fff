'use strict'
// Web mode only: the `webxdc.js` of a webxdc app's sandboxed <iframe> (web.js serves it as
// /webxdc/<ticket>/webxdc.js, after a line that sets `__piazzaWebxdcSelf`). It provides
// `window.webxdc` — only the realtime API — over a WebSocket to web.js, which runs the calls on
// the person's createWebxdc(rtm, scope) (lib/webxdc-frame.js). In Electron, webxdc-preload.js
// provides the same window.webxdc over IPC.
//
// webxdc's rules hold here, synchronously: a second joinRealtimeChannel() without leave()
// throws, setListener replaces, send takes a Uint8Array of at most 128000 bytes, and a left
// channel throws on any use.
;(() => {
  /** @type {{ selfAddr: string, selfName: string, ticket: string }} */
  const self = /** @type {any} */ (window).__piazzaWebxdcSelf
  const MAX_BYTES = 128000
  const socket = new WebSocket(`ws://${location.host}/webxdc-bridge/${encodeURIComponent(self.ticket)}`)
  socket.binaryType = 'arraybuffer'
  /** What was sent before the socket opened. @type {(string | Uint8Array)[]} */
  const queue = []
  /** @param {string | Uint8Array} frame */
  const post = (frame) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(frame)
    else if (socket.readyState === WebSocket.CONNECTING) queue.push(frame)
  }
  socket.addEventListener('open', () => { for (const frame of queue.splice(0)) socket.send(frame) })
  /** The joined channel's state, or null. @type {{ listener: ((data: Uint8Array) => void) | null, left: boolean } | null} */
  let current = null
  socket.addEventListener('message', (message) => {
    if (typeof message.data === 'string') {
      const event = JSON.parse(message.data)
      if (event.event === 'error') console.error(`webxdc: ${event.message}`)
      return
    }
    if (current && current.listener) current.listener(new Uint8Array(message.data))
  })

  function joinRealtimeChannel () {
    if (current) throw new Error('joinRealtimeChannel: the realtime channel is already joined; leave() it first')
    /** @type {{ listener: ((data: Uint8Array) => void) | null, left: boolean }} */
    const state = { listener: null, left: false }
    current = state
    post(JSON.stringify({ op: 'join' }))
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
        post(data.slice())
      },
      leave () {
        check()
        state.left = true
        state.listener = null
        current = null
        post(JSON.stringify({ op: 'leave' }))
      }
    }
  }

  window.webxdc = Object.freeze({ selfAddr: self.selfAddr, selfName: self.selfName, joinRealtimeChannel })
})()
