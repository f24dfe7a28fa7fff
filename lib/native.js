'use strict'
// lib/native.js: the one place the native addon is loaded. Every other module requires
// './native' and never '../binding.js' (the generated napi-rs loader) directly, so that how the
// addon is found, and what is said when it cannot be, is decided here alone: the generated
// loader's own message ("npm has a bug related to optional dependencies…, reinstall") cannot
// help on a platform Piazza does not build, so it becomes an error that names the platform,
// the package looked for and how to build from source (lib/platform.js), with the loader's
// attempts kept as its `cause`.

const { missingBinaryError } = require('./platform')

try {
  module.exports = require('../binding.js')
} catch (e) {
  throw missingBinaryError('the native addon', e)
}
