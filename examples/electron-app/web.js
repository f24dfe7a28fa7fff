'use strict'
// Web mode: the same renderer, served over HTTP on 127.0.0.1, with `window.piazza` bridged
// over a WebSocket (renderer/web-bridge.js) to the same RoomSession logic the Electron main
// process uses. One browser tab = one person, as one Electron window is.
//
// A webxdc app of the room (webxdc-apps/<app>/) runs in a sandboxed <iframe> (no same origin):
// `openWebxdc` hands the renderer a ticket URL, /webxdc/<ticket>/index.html; the frame's
// webxdc.js (renderer/webxdc-web-bridge.js) talks to /webxdc-bridge/<ticket> over its own
// WebSocket, connected to the person's session by lib/webxdc-frame.js.
//
//   npm run web            # prints the URL to open (PORT=8080 to choose the port)
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const { WebSocketServer } = require('ws')
const piazza = require('piazza-rtc')
const { RoomSession } = require('./lib/session')
const { startBackend } = require('./lib/backend')

const RENDERER = path.join(__dirname, 'renderer')
const WEBXDC_APPS = path.join(__dirname, 'webxdc-apps')
const WEBXDC_BRIDGE = path.join(RENDERER, 'webxdc-web-bridge.js')
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' }

/**
 * Starts web mode; resolves with its URL and a `close()`.
 * @param {{ port?: number, env?: NodeJS.ProcessEnv }} [options]
 */
async function startWeb ({ port = 0, env = process.env } = {}) {
  const backend = await startBackend(piazza, env)
  /** The webxdc frames' tickets: ticket -> { session, app }. @type {Map<string, { session: RoomSession, app: string }>} */
  const tickets = new Map()
  /** @param {import('node:http').ServerResponse} res @param {string} root @param {string} name @param {string} [prefix] */
  const serve = (res, root, name, prefix, headers = {}) => {
    const file = path.join(root, path.normalize(name))
    if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
      return
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-store', ...headers })
    if (prefix) res.write(prefix)
    fs.createReadStream(file).pipe(res)
  }
  const server = http.createServer((req, res) => {
    const url = new URL(req.url || '/', 'http://localhost')
    const frame = url.pathname.match(/^\/webxdc\/([0-9a-f]{32})\/(.+)$/)
    if (frame) {
      const ticket = tickets.get(frame[1])
      // The frame's files may reach nothing but its own bridge (no other network access).
      const csp = {
        'content-security-policy': `default-src 'self' 'unsafe-inline' data: blob:; connect-src ws://${req.headers.host}/webxdc-bridge/${frame[1]}`,
      }
      if (!ticket || !ticket.session.me) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
      } else if (frame[2] === 'webxdc.js') {
        const me = ticket.session.me
        const self = { selfAddr: me.userId, selfName: me.userId, ticket: frame[1] }
        serve(res, RENDERER, path.basename(WEBXDC_BRIDGE), `window.__piazzaWebxdcSelf = ${JSON.stringify(self)};\n`, csp)
      } else {
        serve(res, path.join(WEBXDC_APPS, ticket.app), frame[2], undefined, csp)
      }
      return
    }
    serve(res, RENDERER, url.pathname === '/' ? 'index.html' : url.pathname.slice(1))
  })
  const bridges = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 })
  // A frame sends datagrams of up to 128000 bytes.
  const frames = new WebSocketServer({ noServer: true, maxPayload: 130 * 1024 })
  server.on('upgrade', (req, socket, head) => {
    const { pathname } = new URL(req.url || '/', 'http://localhost')
    const frame = pathname.match(/^\/webxdc-bridge\/([0-9a-f]{32})$/)
    if (pathname === '/bridge') {
      // Only the app's own page may drive a session: a webxdc frame (Origin "null", sandboxed)
      // or another site open in the browser must not log in or use the host's admin calls.
      const own = `http://${req.headers.host}`
      if (req.headers.origin !== own) {
        socket.destroy()
        return
      }
      bridges.handleUpgrade(req, socket, head, (ws) => bridges.emit('connection', ws, req))
    } else if (frame && tickets.has(frame[1])) {
      frames.handleUpgrade(req, socket, head, (ws) => connectFrame(ws, frame[1]))
    } else {
      socket.destroy()
    }
  })
  /** Connects a webxdc frame's WebSocket to its person's session. @param {import('ws').WebSocket} ws @param {string} ticket */
  const connectFrame = (ws, ticket) => {
    const { session, app } = /** @type {{ session: RoomSession, app: string }} */ (tickets.get(ticket))
    let frame
    try {
      frame = session.attachWebxdc(app, (event, payload) => {
        if (ws.readyState !== ws.OPEN) return
        if (payload instanceof Uint8Array) ws.send(payload)
        else ws.send(JSON.stringify({ event, ...payload }))
      })
    } catch (err) {
      ws.close(1008, err instanceof Error ? err.message.slice(0, 100) : 'refused')
      return
    }
    ws.on('message', (data, isBinary) => {
      try {
        if (isBinary) {
          const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(/** @type {any} */ (data))
          frame.call('send', new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length))
        } else {
          frame.call(JSON.parse(String(data)).op)
        }
      } catch (err) {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ event: 'error', message: err instanceof Error ? err.message : String(err) }))
      }
    })
    ws.on('close', () => session.detachWebxdc(frame))
  }
  const sessions = new Set()
  bridges.on('connection', (socket) => {
    const session = new RoomSession({
      piazza,
      endpoint: backend.url,
      admin: backend.admin,
      send: (event, payload) => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ event, payload }))
      }
    })
    sessions.add(session)
    socket.on('message', async (data) => {
      let request
      try {
        request = JSON.parse(String(data))
      } catch {
        return socket.close(1003, 'not JSON')
      }
      try {
        let result = await session.call(request.method, request.args)
        if (request.method === 'openWebxdc') {
          const opened = /** @type {{ app: string, scope: string }} */ (result)
          const ticket = crypto.randomBytes(16).toString('hex')
          tickets.set(ticket, { session, app: opened.app })
          result = { ...opened, tag: 'iframe', src: `/webxdc/${ticket}/index.html` }
        }
        socket.send(JSON.stringify({ id: request.id, result: result === undefined ? null : result }))
      } catch (err) {
        socket.send(JSON.stringify({ id: request.id, error: err instanceof Error ? err.message : String(err) }))
      }
    })
    socket.on('close', () => {
      sessions.delete(session)
      for (const [ticket, t] of tickets) if (t.session === session) tickets.delete(ticket)
      session.close()
    })
  })
  await new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(undefined)))
  const address = server.address()
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}/`
  return {
    url,
    close: async () => {
      for (const session of sessions) await session.close()
      for (const client of [...bridges.clients, ...frames.clients]) client.terminate()
      await new Promise((resolve) => bridges.close(() => resolve(undefined)))
      await new Promise((resolve) => frames.close(() => resolve(undefined)))
      await new Promise((resolve) => server.close(() => resolve(undefined)))
      await backend.close()
    }
  }
}

if (require.main === module) {
  startWeb({ port: Number(process.env.PORT || 0) }).then(({ url, close }) => {
    console.log(`Piazza rooms (web mode): open ${url} in two browser tabs`)
    const stop = () => close().then(() => process.exit(0))
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  }, (err) => {
    console.error(err)
    process.exit(1)
  })
}

module.exports = { startWeb }
