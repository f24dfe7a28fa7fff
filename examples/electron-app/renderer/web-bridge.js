'use strict'
// Web mode only: in Electron, preload.js has already put `window.piazza` in place and this
// file does nothing. In a browser the page itself is the app: it loads Piazza's browser client
// (piazza-rtc/web, served by web.js as /piazza-web.mjs) and the RoomSession logic of Electron's
// main process (lib/session.js, as /lib/session.mjs), and connects to the Piazza server named
// by /config.json. Only the host's kick and dismiss go to web.js (the server's admin API): web.js
// decides who the host is. Having entered a room, the page asks web.js for its capability
// (/session/enter), which says whether this person hosts the room; the kick and dismiss carry it,
// and it is handed back when the person leaves the room or the page.
// A webxdc app's sandboxed frame talks to this page by postMessage (webxdc-web-bridge.js).
;(() => {
  if (window.piazza) return
  /** Dynamic imports from a classic script (app.js, also classic, needs window.piazza at once). @param {string} url */
  const load = (url) => import(url)
  /** @type {Set<(...args: PiazzaEventArgs) => void>} */
  const listeners = new Set()
  /** This person's capability for the room (from web.js), while in one. @type {string | null} */
  let capability = null
  const release = () => {
    if (capability) navigator.sendBeacon('/session/leave', JSON.stringify({ capability }))
    capability = null
  }
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
        removeUser: (appId, room, userIds) => post('/admin/remove-users', { capability, appId, room, userIds }),
        dismissRoom: (appId, room) => post('/admin/dismiss', { capability, appId, room })
      },
      send: (/** @type {any} */ event, /** @type {any} */ payload) => {
        if (event === 'exit') release()
        const args = /** @type {PiazzaEventArgs} */ ([event, payload])
        for (const listener of [...listeners]) listener(...args)
      }
    }))
  /** @param {string} method @param {unknown} [args] */
  const call = async (method, args) => (await session).call(method, args)
  // The person leaves with the page.
  addEventListener('pagehide', () => {
    release()
    session.then((s) => s.close())
  })

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
    login: async (login) => {
      const entered = /** @type {PiazzaEntered} */ (await call('login', login))
      const s = await session
      const me = /** @type {{ appId: string, userId: string, room: string, host: boolean } | null} */ (s.me)
      if (!me) return entered // already out of the room again
      // web.js says who hosts the room (it alone can act on the admin API).
      let host = false
      try {
        const grant = await post('/session/enter', { appId: me.appId, userId: me.userId, room: me.room })
        capability = grant.capability
        host = grant.host === true
      } catch (err) {
        console.warn('web mode: no capability for the room:', err)
      }
      me.host = host
      return { ...entered, host }
    },
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
