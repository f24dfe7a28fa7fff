'use strict'
// Where the sample's server is: PIAZZA_URL (with PIAZZA_ADMIN_TOKEN for the host's kick and
// dismiss), or an embedded server started in this process so the sample works alone.

/**
 * What the host's buttons need from the server.
 * @typedef {{ removeUser(appId: string, room: string, userIds: string[]): Promise<unknown>, dismissRoom(appId: string, room: string): Promise<unknown> }} Admin
 */

/**
 * The admin API of a server reached over HTTP (`POST /v1/apps/{app}/str-rooms/{room}/…`).
 * @param {string} url
 * @param {string | undefined} token
 * @returns {Admin}
 */
function httpAdmin (url, token) {
  const base = url.replace(/^ws(s?):\/\//, 'http$1://').replace(/\/+$/, '')
  /** @param {string} path @param {unknown} [body] */
  const post = async (path, body) => {
    if (!token) throw new Error('Set PIAZZA_ADMIN_TOKEN to remove members or close rooms on this server.')
    const response = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
    const answer = await response.json().catch(() => ({}))
    if (!response.ok) throw new Error(answer.message || answer.error || `the server answered ${response.status}`)
    return answer
  }
  /** @param {string} appId @param {string} id */
  const room = (appId, id) => `/v1/apps/${encodeURIComponent(appId)}/str-rooms/${encodeURIComponent(id)}`
  return {
    removeUser: (appId, id, userIds) => post(`${room(appId, id)}/remove-users`, { userIds }),
    dismissRoom: (appId, id) => post(`${room(appId, id)}/dismiss`)
  }
}

/**
 * @param {typeof import('piazza-rtc')} piazza
 * @param {NodeJS.ProcessEnv} env
 * @returns {Promise<{ url: string, admin: Admin, embedded: boolean, close: () => Promise<void> }>}
 */
async function startBackend (piazza, env = process.env) {
  if (env.PIAZZA_URL) {
    return { url: env.PIAZZA_URL, admin: httpAdmin(env.PIAZZA_URL, env.PIAZZA_ADMIN_TOKEN), embedded: false, close: async () => {} }
  }
  const server = await piazza.Server.start({ host: '127.0.0.1', port: 0, logLevel: 'warn', rooms: { kickBanSeconds: 10 } })
  return {
    url: server.url,
    embedded: true,
    admin: {
      removeUser: (appId, room, userIds) => server.removeUser(appId, room, userIds),
      dismissRoom: (appId, room) => server.dismissRoom(appId, room)
    },
    close: () => server.close()
  }
}

module.exports = { startBackend, httpAdmin }
