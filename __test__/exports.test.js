'use strict'
// index.d.ts against the runtime: every value it declares is exported by index.js with the
// declared kind (class, function, constant object with its keys, string), every public method
// of the classes exists on the prototype (static ones on the class), and index.js exports
// nothing index.d.ts does not declare. index.d.ts is read with the TypeScript compiler API, with
// what it re-exports from the files beside it (server.d.ts, storage.d.ts).
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const ts = require('typescript')
const piazza = require('..')

const DTS = path.join(__dirname, '..', 'index.d.ts')
/** The classes whose methods must all exist (the test also checks every other class it finds). */
const API_CLASSES = ['RTM', 'RTMPresence', 'RTMStorage', 'RTMLock', 'RTMHistory', 'RTMStreamChannel', 'RealtimeChannel', 'TRTCCloud', 'Server']

const program = ts.createProgram([DTS], {
  noEmit: true,
  strict: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.CommonJS,
  moduleResolution: ts.ModuleResolutionKind.Node10,
  types: ['node'],
})
const source = program.getSourceFile(DTS)
const checker = program.getTypeChecker()
/** Its exports, a re-export (`export * from './storage'`) as the symbol it stands for. */
const exported = checker.getExportsOfModule(checker.getSymbolAtLocation(source))
  .map((s) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s))
/** The declaration files of the package: index.d.ts and those it imports (not @types, not lib). */
const ownFiles = program.getSourceFiles().filter((f) => path.resolve(path.dirname(f.fileName)) === path.dirname(DTS))
/** The exported values (classes, functions, constants); types and interfaces have no runtime. */
const values = exported.filter((s) => s.flags & ts.SymbolFlags.Value)

const hasModifier = (node, kind) => (ts.getModifiers(node) || []).some((m) => m.kind === kind)
const memberName = (member) => member.name && (ts.isIdentifier(member.name) || ts.isStringLiteral(member.name)) ? member.name.text : null
const declarationOf = (symbol, is) => symbol.declarations.find(is)

test('index.d.ts parses and type-checks', () => {
  assert.ok(ownFiles.length >= 3, `index.d.ts and what it re-exports: ${ownFiles.map((f) => f.fileName)}`)
  const diagnostics = ownFiles.flatMap((f) => [...program.getSyntacticDiagnostics(f), ...program.getSemanticDiagnostics(f)])
  assert.deepEqual(diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')), [])
  assert.ok(values.length > 10, `only ${values.length} exported values found in index.d.ts`)
})

test('index.js exports nothing that index.d.ts does not declare', () => {
  const declared = new Set(values.map((s) => s.name))
  assert.deepEqual(Object.keys(piazza).filter((name) => !declared.has(name)), [])
})

test('every value index.d.ts declares exists with its kind', async (t) => {
  for (const symbol of values) {
    const name = symbol.name
    await t.test(name, () => {
      assert.ok(Object.prototype.hasOwnProperty.call(piazza, name), `index.js does not export ${name}`)
      const value = piazza[name]
      if (symbol.flags & ts.SymbolFlags.Class) {
        checkClass(name, value, declarationOf(symbol, ts.isClassDeclaration))
      } else if (symbol.flags & ts.SymbolFlags.Function) {
        assert.equal(typeof value, 'function', `${name} is declared as a function`)
      } else if (symbol.flags & ts.SymbolFlags.Variable) {
        checkConstant(name, value, declarationOf(symbol, ts.isVariableDeclaration))
      } else {
        assert.fail(`${name}: an exported value of an unexpected kind (flags ${symbol.flags})`)
      }
    })
  }
})

test('the API classes are declared in index.d.ts (so their methods are checked)', () => {
  const classes = values.filter((s) => s.flags & ts.SymbolFlags.Class).map((s) => s.name)
  for (const name of API_CLASSES) assert.ok(classes.includes(name), `index.d.ts declares no class ${name}`)
})

/** A class: a function with a prototype; its public methods on the prototype, statics on the class. */
function checkClass (name, cls, declaration) {
  assert.equal(typeof cls, 'function', `${name} is declared as a class`)
  assert.equal(typeof cls.prototype, 'object', `${name} has no prototype`)
  assert.match(Function.prototype.toString.call(cls), /^class\b/, `${name} is not a class`)
  const missing = []
  for (const member of declaration.members) {
    const key = memberName(member)
    if (key === null || hasModifier(member, ts.SyntaxKind.PrivateKeyword) || hasModifier(member, ts.SyntaxKind.ProtectedKeyword)) continue
    const isStatic = hasModifier(member, ts.SyntaxKind.StaticKeyword)
    if (ts.isMethodDeclaration(member)) {
      const holder = isStatic ? cls : cls.prototype
      if (typeof holder[key] !== 'function') missing.push(`${isStatic ? 'static ' : ''}method ${name}${isStatic ? '.' : '#'}${key}`)
    } else if (isStatic && (ts.isPropertyDeclaration(member) || ts.isGetAccessorDeclaration(member))) {
      if (!(key in cls)) missing.push(`static property ${name}.${key}`)
    } else if (ts.isGetAccessorDeclaration(member)) {
      if (!(key in cls.prototype)) missing.push(`getter ${name}#${key}`)
    }
    // Instance properties (readonly appId, url …) need an instance: not checked here.
  }
  assert.deepEqual(missing, [], `declared in index.d.ts but missing at runtime: ${missing.join(', ')}`)
}

/** A declared const: `typeof X` (the same object as X), a primitive, or an object with its keys. */
function checkConstant (name, value, declaration) {
  if (declaration.type && ts.isTypeQueryNode(declaration.type)) {
    const target = declaration.type.exprName.getText()
    assert.equal(value, piazza[target], `${name} is declared as typeof ${target}`)
    return
  }
  const type = checker.getTypeAtLocation(declaration)
  if (type.flags & ts.TypeFlags.StringLike) return assert.equal(typeof value, 'string', `${name} is declared as a string`)
  if (type.flags & ts.TypeFlags.NumberLike) return assert.equal(typeof value, 'number', `${name} is declared as a number`)
  if (type.flags & ts.TypeFlags.BooleanLike) return assert.equal(typeof value, 'boolean', `${name} is declared as a boolean`)
  assert.ok(value !== null && typeof value === 'object', `${name} is declared as an object`)

  const properties = checker.getPropertiesOfType(type)
  const indexes = checker.getIndexInfosOfType(type)
  const declared = new Set(properties.map((p) => p.name))
  // Declared keys: present, with the declared literal value if there is one.
  for (const property of properties) {
    assert.ok(Object.prototype.hasOwnProperty.call(value, property.name), `${name}.${property.name} is declared but missing`)
    const propertyType = checker.getTypeOfSymbolAtLocation(property, declaration)
    if (propertyType.isLiteral()) assert.equal(value[property.name], propertyType.value, `${name}.${property.name}`)
  }
  // Other keys: only those an index signature allows (ErrorCode: `RTM_ERROR_${string}` -> number).
  if (indexes.length > 0) assert.ok(Object.keys(value).length > 0, `${name} is declared as a table but is empty`)
  for (const key of Object.keys(value)) {
    if (declared.has(key)) continue
    const index = indexes.find((info) => checker.isTypeAssignableTo(checker.getStringLiteralType(key), info.keyType))
    assert.ok(index, `${name}.${key} exists at runtime but index.d.ts does not declare it`)
    if (index.type.flags & ts.TypeFlags.NumberLike) assert.equal(typeof value[key], 'number', `${name}.${key}`)
    if (index.type.flags & ts.TypeFlags.StringLike) assert.equal(typeof value[key], 'string', `${name}.${key}`)
  }
}
