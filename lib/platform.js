'use strict'
// Which prebuilt package serves this machine. `npm install piazza-rtc` installs exactly one of
// the optional dependencies `piazza-rtc-<platform>` (npm picks it by its `os`, `cpu` and `libc`
// fields); each holds the Node-API addon and the standalone `piazza-server` binary. The addon
// loader (lib/native.js) and `npx piazza-rtc-server` (bin/) both ask this module for the name,
// so an unsupported machine gets one clear answer: which platform it is, which package was
// looked for, and how to build from source.

const { readFileSync } = require('fs')

/** The platforms a release builds (package.json "napi.targets"). */
const SUPPORTED = Object.freeze([
  'linux-x64-gnu', 'linux-arm64-gnu', 'linux-x64-musl', 'linux-arm64-musl',
  'darwin-x64', 'darwin-arm64', 'win32-x64-msvc', 'win32-arm64-msvc',
])

/** musl or glibc, decided in the order the napi-rs loader (binding.js) decides it. */
function isMusl () {
  try {
    return readFileSync('/usr/bin/ldd', 'utf8').includes('musl')
  } catch {}
  if (process.report && typeof process.report.getReport === 'function') {
    process.report.excludeNetwork = true
    const report = process.report.getReport()
    if (report && report.header && report.header.glibcVersionRuntime) return false
    if (report && Array.isArray(report.sharedObjects)) {
      return report.sharedObjects.some((f) => f.includes('libc.musl-') || f.includes('ld-musl-'))
    }
  }
  return false
}

/** The platform name of a machine, in the napi-rs spelling (`linux-x64-gnu`, `darwin-arm64`…). */
function platformName (platform = process.platform, arch = process.arch, musl = platform === 'linux' ? isMusl() : false) {
  if (platform === 'linux') return `linux-${arch}-${musl ? 'musl' : 'gnu'}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

/** The npm package with the binaries of a platform. */
function packageName (platform = platformName()) {
  return `piazza-rtc-${platform}`
}

/** The file name of the standalone server binary on a platform. */
function serverBinaryName (platform = platformName()) {
  return platform.startsWith('win32') ? 'piazza-server.exe' : 'piazza-server'
}

const FROM_SOURCE =
  'To build from source (needs Rust stable and Node >= 18): git clone https://github.com/piazza-rt/piazza && ' +
  'cd piazza && npm install, then point NAPI_RS_NATIVE_LIBRARY_PATH at the built piazza.<platform>.node ' +
  '(and PIAZZA_SERVER_BINARY at target/release/piazza-server for npx piazza-rtc-server).'

/**
 * The error for a machine whose binaries could not be loaded: names the platform and the
 * package looked for, says whether a release builds that platform at all, and how to build
 * from source. `cause` keeps what the loader tried.
 */
function missingBinaryError (what, cause, platform = platformName()) {
  const pkg = packageName(platform)
  const why = SUPPORTED.includes(platform)
    ? `${pkg} is not installed. npm installs it as an optional dependency of piazza-rtc; it is missing when ` +
      'optional dependencies were omitted (--omit=optional, --no-optional) or node_modules was copied from ' +
      'another platform. Reinstall piazza-rtc on this machine.'
    : `Piazza has no prebuilt binaries for ${platform} (it looked for the package ${pkg}); ` +
      `prebuilt platforms: ${SUPPORTED.join(', ')}.`
  const error = new Error(`piazza-rtc: cannot load ${what} for this machine (${platform}). ${why} ${FROM_SOURCE}`)
  error.code = 'PIAZZA_UNSUPPORTED_PLATFORM'
  error.platform = platform
  error.packageName = pkg
  if (cause !== undefined) error.cause = cause
  return error
}

module.exports = { SUPPORTED, platformName, packageName, serverBinaryName, missingBinaryError }
