'use strict'
// Web mode has no bridge: the page talks to Piazza itself. What web.js still does for it — the
// host's kick and dismiss over the server's admin API — only the app's own page may ask for: not
// a sandboxed webxdc frame (Origin "null") and not another site. A webxdc frame gets no network.
const test = require('node:test')
const assert = require('node:assert/strict')
const { startWeb } = require('../web')

/** POSTs an admin action as a page of `origin` would; resolves with the HTTP status. */
async function ask (web, action, origin) {
  const response = await fetch(new URL(`/admin/${action}`, web.url), {
    method: 'POST',
    headers: { origin, 'content-type': 'application/json' },
    body: JSON.stringify({ appId: '1400000001', room: 'nobody-here', userIds: ['x'] })
  })
  await response.arrayBuffer()
  return response.status
}

test('the admin actions refuse every origin but the page web.js serves; there is no bridge', async (t) => {
  const web = await startWeb({ env: {} })
  t.after(() => web.close())
  const own = new URL(web.url).origin
  for (const action of ['remove-users', 'dismiss']) {
    assert.notEqual(await ask(web, action, own), 403, `${action}: the app page`)
    assert.equal(await ask(web, action, 'null'), 403, `${action}: a sandboxed frame`)
    assert.equal(await ask(web, action, 'http://evil.example'), 403, `${action}: another site`)
  }
  const bridge = await fetch(new URL('/bridge', web.url))
  assert.equal(bridge.status, 404, 'no WebSocket bridge any more')
  const config = await (await fetch(new URL('/config.json', web.url))).json()
  assert.match(config.endpoint, /^ws:\/\/127\.0\.0\.1:\d+$/, 'the page is told where the Piazza server is')
  const frame = await fetch(new URL('/webxdc/whiteboard/webxdc.js', web.url))
  assert.equal(frame.status, 200)
  assert.match(frame.headers.get('content-security-policy') || '', /connect-src 'none'/, 'a webxdc frame has no network')
})
