'use strict'
// Web mode only: in Electron, preload.js has already put `window.piazza` in place and this
// file does nothing. In a browser the page itself is the app: it loads Piazza's browser client
// (piazza-rtc/web, served by web.js as /piazza-web.mjs) and the RoomSession logic of Electron's
// main process (lib/session.js, as /lib/session.mjs), and connects to the Piazza server named
// by /config.json. Only the host's kick and dismiss go to web.js (the server's admin API).
// A webxdc app's sandboxed frame talks to this page by postMessage (webxdc-web-bridge.js).
;(() => {
  if (window.piazza) return
  /** Dynamic imports from a classic script (app.js, also classic, needs window.piazza at once). @param {string} url */
  const load = (url) => import(url)
  /** @type {Set<(...args: PiazzaEventArgs) => void>} */
  const listeners = new Set()
  /** @param {string} path @param {unknown} body */
  const post = async (path, body) => {
    const response = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    const answer = await response.json().catch(() => ({}))
    if (!response.ok) throw new Error(answer.error || `the app answered ${response.status}`)
    return answer
  }
  const session = Promise.all([load('/piazza-web.mjs'), load('/lib/session.mjs'), fetch('/config.json').then((r) => r.json())])
    .then(([piazza, { default: { RoomSession } }, config]) => new RoomSession({
      piazza,
      endpoint: config.endpoint,
      admin: {
        removeUser: (appId, room, userIds) => post('/admin/remove-users', { appId, room, userIds }),
        dismissRoom: (appId, room) => post('/admin/dismiss', { appId, room })
      },
      send: (/** @type {any} */ event, /** @type {any} */ payload) => {
        const args = /** @type {PiazzaEventArgs} */ ([event, payload])
        for (const listener of [...listeners]) listener(...args)
      }
    }))
  /** @param {string} method @param {unknown} [args] */
  const call = async (method, args) => (await session).call(method, args)
  // The person leaves with the page.
  addEventListener('pagehide', () => { session.then((s) => s.close()) })

  // webxdc frames: one per app, found by the window that posts; their calls run on the session.
  /** @type {Map<Window, { app: string, frame: any }>} */
  const frames = new Map()
  addEventListener('message', async (message) => {
    const source = /** @type {Window | null} */ (message.source)
    const element = Array.from(document.querySelectorAll('iframe')).find((f) => f.contentWindow === source)
    const app = element && element.id.startsWith('webxdc-') ? element.id.slice('webxdc-'.length) : null
    if (!source || !app) return
    const s = await session
    let entry = frames.get(source)
    try {
      if (!entry || entry.app !== app) {
        const reply = (/** @type {string} */ event, /** @type {unknown} */ payload) => source.postMessage({ event, payload }, '*')
        entry = { app, frame: s.attachWebxdc(app, reply) }
        frames.set(source, entry)
      }
      const { op, data } = message.data || {}
      entry.frame.call(op, data)
    } catch (err) {
      source.postMessage({ event: 'error', payload: { message: err instanceof Error ? err.message : String(err) } }, '*')
    }
  })

  /** @type {PiazzaBridge} */
  const api = {
    login: (login) => call('login', login),
    leave: () => call('leave'),
    sendChat: (text) => call('sendChat', { text }),
    setTyping: (typing) => call('setTyping', { typing }),
    removeMember: (userId) => call('removeMember', { userId }),
    dismissRoom: () => call('dismissRoom'),
    openWebxdc: async (app) => {
      const opened = /** @type {{ app: string, scope: string }} */ (await call('openWebxdc', { app }))
      const s = await session
      const self = new URLSearchParams({ selfAddr: s.me.userId, selfName: s.me.userId })
      return { ...opened, tag: 'iframe', src: `/webxdc/${encodeURIComponent(opened.app)}/index.html#${self}` }
    },
    onEvent: (listener) => {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    }
  }
  window.piazza = api
})()
