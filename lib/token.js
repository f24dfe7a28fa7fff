'use strict'
// lib/token.js: generateToken, for app backends: a signed login/join token (an HS256 JWT made by
// the engine), with the argument checks that turn bad options into an RTMError.

const native = require('./native')
const { fromNative, invalid, checkString } = require('./errors')

/**
 * Makes a signed token (HS256 JWT) for an app backend: `{ appId, appCertificate, userId,
 * expireSeconds (1–86400), privileges? }`. Synchronous; throws RTMError on bad options.
 */
function generateToken (options) {
  if (options === null || typeof options !== 'object') throw invalid('generateToken', 'options must be an object')
  const { appId, appCertificate, userId, expireSeconds, privileges } = options
  if (typeof appId !== 'string' && typeof appId !== 'number') throw invalid('generateToken', 'appId must be a string')
  checkString('generateToken', appCertificate, 'appCertificate')
  checkString('generateToken', userId, 'userId')
  if (!Number.isInteger(expireSeconds) || expireSeconds < 1 || expireSeconds > 86400) {
    throw invalid('generateToken', `expireSeconds ${expireSeconds} is outside 1..86400`)
  }
  try {
    return native.generateToken(JSON.stringify({ appId: String(appId), appCertificate, userId, expireSeconds, privileges }))
  } catch (e) {
    throw fromNative('generateToken', e)
  }
}

module.exports = { generateToken }
