'use strict'
// lib/native.js: the one place the native addon is loaded. Every other module requires
// './native' and never '../binding.js' (the generated napi-rs loader) directly, so that how the
// addon is found, and what is said when it cannot be, is decided here alone.

module.exports = require('../binding.js')
