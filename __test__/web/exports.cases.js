'use strict'
// web/index.d.ts declares exactly the values the bundle exports (and Node's ESM loads it).
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')

module.exports = () => {
  test('web/index.d.ts declares exactly the values piazza-web.mjs exports, and type-checks', async () => {
    const ts = require('typescript')
    const dts = path.join(__dirname, '..', '..', 'web', 'index.d.ts')
    const program = ts.createProgram([dts], { noEmit: true, strict: true, types: [], lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'], moduleResolution: ts.ModuleResolutionKind.Bundler, module: ts.ModuleKind.ESNext })
    const source = program.getSourceFile(dts)
    assert.deepEqual([...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')), [])
    const checker = program.getTypeChecker()
    const values = checker.getExportsOfModule(checker.getSymbolAtLocation(source))
      .map((s) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s).flags & ts.SymbolFlags.Value ? s.name : null)
      .filter(Boolean)
    const bundle = await import(path.join(__dirname, '..', '..', 'web', 'dist', 'piazza-web.mjs'))
    assert.deepEqual(values.sort(), Object.keys(bundle).sort())
    assert.equal(bundle.version, require('../../package.json').version)
  })
}
