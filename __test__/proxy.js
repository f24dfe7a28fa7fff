'use strict'
// A TCP proxy for fault tests: cut every connection abruptly, or refuse new ones.
const net = require('node:net')

class Proxy {
  static async start (targetPort) {
    const proxy = new Proxy(targetPort)
    await new Promise((resolve) => proxy.server.listen(0, '127.0.0.1', resolve))
    proxy.port = proxy.server.address().port
    proxy.url = `ws://127.0.0.1:${proxy.port}`
    return proxy
  }

  constructor (targetPort) {
    this.targetPort = targetPort
    this.refusing = false
    this.sockets = new Set()
    this.server = net.createServer((client) => {
      if (this.refusing) return client.destroy()
      const upstream = net.connect(this.targetPort, '127.0.0.1')
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('close', () => this.sockets.delete(s))
        s.on('error', () => {})
      }
      client.pipe(upstream)
      upstream.pipe(client)
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
    })
  }

  /** Kills every proxied connection at once (no close handshake). */
  cut () {
    for (const s of this.sockets) s.resetAndDestroy ? s.resetAndDestroy() : s.destroy()
  }

  refuse (value) {
    this.refusing = value
  }

  close () {
    this.cut()
    return new Promise((resolve) => this.server.close(resolve))
  }
}

module.exports = { Proxy }
