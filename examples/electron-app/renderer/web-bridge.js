'use strict'
// Web mode only: in Electron, preload.js has already put `window.piazza` in place and this
// file does nothing. In a browser it provides the same API over a WebSocket to web.js, which
// runs the same RoomSession logic as Electron's main process.
;(() => {
  if (window.piazza) return
  const socket = new WebSocket(`ws://${location.host}/bridge`)
  const opened = new Promise((resolve, reject) => {
    socket.addEventListener('open', () => resolve(undefined), { once: true })
    socket.addEventListener('error', () => reject(new Error('cannot reach the app (is `npm run web` running?)')), { once: true })
  })
  /** @type {Map<number, { resolve: (v: any) => void, reject: (e: Error) => void }>} */
  const waiting = new Map()
  /** @type {Set<(...args: PiazzaEventArgs) => void>} */
  const listeners = new Set()
  let nextId = 1
  socket.addEventListener('message', (message) => {
    const data = JSON.parse(message.data)
    if (data.id !== undefined) {
      const call = waiting.get(data.id)
      waiting.delete(data.id)
      if (call) data.error === undefined ? call.resolve(data.result) : call.reject(new Error(data.error))
    } else {
      const args = /** @type {PiazzaEventArgs} */ ([data.event, data.payload])
      for (const listener of [...listeners]) listener(...args)
    }
  })
  socket.addEventListener('close', () => {
    for (const call of waiting.values()) call.reject(new Error('the connection to the app closed'))
    waiting.clear()
    for (const listener of [...listeners]) listener('connection', { state: 'lost', text: 'The app went away.' })
  })
  /** @param {string} method @param {unknown} [args] */
  const call = async (method, args) => {
    await opened
    const id = nextId++
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject })
      socket.send(JSON.stringify({ id, method, args }))
    })
  }
  /** @type {PiazzaBridge} */
  const api = {
    login: (login) => call('login', login),
    leave: () => call('leave'),
    sendChat: (text) => call('sendChat', { text }),
    setTyping: (typing) => call('setTyping', { typing }),
    removeMember: (userId) => call('removeMember', { userId }),
    dismissRoom: () => call('dismissRoom'),
    openWebxdc: (app) => call('openWebxdc', { app }),
    onEvent: (listener) => {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    }
  }
  window.piazza = api
})()
