// loader.js -- find and load one function's code, as the Azure Functions
// Node.js v3 programming model does: the script file (function.json
// `scriptFile`, else the function folder's primary file), then the entry
// point (module.exports when it is a function, else the export named by
// function.json `entryPoint`, else the only export, `run`, `index`, the
// only exported function, the default export). CommonJS files are
// required; `.mjs` files and `.js` files of a `"type": "module"` package are
// imported. Load failures become messages naming the file and line.
'use strict';

const fs = require('fs');
const path = require('path');

// The folder's primary script when function.json names none: the only file
// besides function.json; else run.*, index.js, index.mjs or index.cjs; else
// the only JavaScript file.
function primaryScript(dir) {
  let names;
  try {
    names = fs.readdirSync(dir, { withFileTypes: true })
      .filter((d) => !d.isDirectory() && d.name.toLowerCase() !== 'function.json')
      .map((d) => d.name);
  } catch (e) {
    throw new Error('cannot read the function folder ' + dir + ': ' + e.message);
  }
  if (names.length === 0) throw new Error('no script file in ' + dir + ' (expected index.js)');
  if (names.length === 1) return path.join(dir, names[0]);
  const conventional = names.find((n) => {
    const l = n.toLowerCase();
    return path.parse(l).name === 'run' || l === 'index.js' || l === 'index.mjs' || l === 'index.cjs';
  });
  if (conventional) return path.join(dir, conventional);
  const js = names.filter((n) => /\.(c|m)?js$/i.test(n));
  if (js.length === 1) return path.join(dir, js[0]);
  throw new Error('cannot tell which file of ' + dir + ' is the function (' + names.join(', ') +
    '): name it index.js or set "scriptFile" in function.json');
}

// The nearest package.json "type" above file, cached per folder. Folders
// without one are passed by a stat that does not throw (an exception per
// folder up to the root cost more than the rest of the lookup).
const typeCache = new Map();
function packageType(dir) {
  if (typeCache.has(dir)) return typeCache.get(dir);
  let type = 'commonjs';
  const file = path.join(dir, 'package.json');
  const up = path.dirname(dir);
  if (fs.statSync(file, { throwIfNoEntry: false }) === undefined) {
    if (up !== dir) type = packageType(up);
  } else {
    try {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, ''));
      type = pkg && pkg.type === 'module' ? 'module' : 'commonjs';
    } catch (e) {
      type = 'commonjs';
    }
  }
  typeCache.set(dir, type);
  return type;
}

function isESModule(file) {
  if (/\.mjs$/i.test(file)) return true;
  if (/\.cjs$/i.test(file)) return false;
  return /\.js$/i.test(file) && packageType(path.dirname(file)) === 'module';
}

// A scriptFile naming a folder is resolved as require() would: its
// package.json "main", else index.js.
function resolveScript(file) {
  let st;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw new Error('scriptFile ' + file + ' does not exist');
  }
  if (!st.isDirectory()) return file;
  try {
    return require.resolve(file);
  } catch (e) {
    throw new Error('scriptFile ' + file + ' is a folder without package.json "main" or index.js');
  }
}

function exportNames(mod) {
  return Object.keys(mod).filter((k) => typeof mod[k] === 'function');
}

// The function to call and its `this`, per the v3 rules.
function entryPoint(mod, name, file) {
  // module.exports that is a function is the entry point, whatever
  // entryPoint says (Azure looks up entryPoint only in an object).
  if (typeof mod === 'function') return { fn: mod, self: mod };
  if (mod === null || typeof mod !== 'object') {
    throw new Error(file + ' exports ' + (mod === null ? 'null' : typeof mod) +
      ', not a function: use module.exports = async function (context, req) {...}');
  }
  const fns = exportNames(mod);
  if (name) {
    if (typeof mod[name] === 'function') return { fn: mod[name], self: mod };
    throw new Error('entryPoint "' + name + '" is not a function exported by ' + file +
      ' (exported functions: ' + (fns.join(', ') || 'none') + ')');
  }
  // Azure's order (the only export, then run or index), then what Azure
  // would refuse: the only exported function, the default export.
  const keys = Object.keys(mod);
  let fn;
  if (keys.length === 1) fn = mod[keys[0]];
  else if (typeof mod.run === 'function') fn = mod.run;
  else if (typeof mod.index === 'function') fn = mod.index;
  else if (fns.length === 1) fn = mod[fns[0]];
  else fn = mod.default;
  if (typeof fn === 'function') return { fn, self: mod };
  throw new Error(file + ' exports no function to run (exported functions: ' +
    (fns.join(', ') || 'none') + '): export one function, or name it with "entryPoint" in function.json');
}

// An ES module's syntax error says nothing of where it is; `node --check`
// on the file does (only on this error path).
function esmSyntaxLocation(file) {
  try {
    const r = require('child_process').spawnSync(process.execPath, ['--check', file],
      { encoding: 'utf8', timeout: 10000 });
    const out = (r.stderr || '').split(/\n\s*\n/)[0].trim();
    if (r.status !== 0 && out) return out.replace(/^file:\/\//, '');
  } catch (e) { /* no location, then */ }
  return null;
}

// Describe a load error: the exception, the file and line, and the stack
// frames of user code.
function describe(err, file, esm) {
  if (!(err instanceof Error)) return 'threw ' + String(err) + ' while loading ' + file;
  const stack = String(err.stack || err);
  if (err.name === 'SyntaxError') {
    let where = null;
    const first = stack.split('\n', 1)[0];
    if (/:\d+$/.test(first) && first.indexOf(path.sep) >= 0) {
      // CommonJS: "file:line\n source\n ^^^\n\nSyntaxError: ..."
      where = stack.slice(0, stack.indexOf('\n\n') >= 0 ? stack.indexOf('\n\n') : undefined);
    } else if (esm) {
      where = esmSyntaxLocation(file);
    }
    if (where) {
      // "file:line", the source line, a caret line under the culprit.
      const lines = where.split('\n');
      const caret = lines[2] ? lines[2].search(/\^/) : -1;
      const loc = lines[0].replace(/^file:\/\//, '') + (caret >= 0 ? ':' + (caret + 1) : '');
      const src = (lines[1] || '').trim();
      return 'SyntaxError: ' + err.message + ' (' + loc + ')' + (src ? ': ' + src : '');
    }
    return 'SyntaxError: ' + err.message + ' (in ' + file + ' or a module it imports)';
  }
  return userStack(stack);
}

// The stack without the frames of Node's own module loader and of the shim.
function userStack(stack) {
  const shim = __dirname + path.sep;
  return stack.split('\n').filter((l) =>
    !/^\s+at .*\(?node:internal\//.test(l) && !/^\s+at .*\(node:/.test(l) && l.indexOf(shim) < 0
  ).join('\n');
}

// Load one function of the LOAD frame: resolves to {fn, self, file}, or
// rejects with an Error whose message is fit for LOADED's `error`.
async function loadFunction(f) {
  let file;
  try {
    file = f.scriptFile ? resolveScript(path.resolve(f.directory || '.', f.scriptFile))
      : primaryScript(f.directory);
  } catch (e) {
    throw new Error(e.message);
  }
  const esm = isESModule(file);
  let mod;
  try {
    if (esm) {
      mod = await require('./esm')(require('url').pathToFileURL(file).href);
    } else {
      mod = require(file);
    }
  } catch (e) {
    // The function's own file an ES module that was not taken for one; an
    // ES module it requires (a package that ships only ES modules) is
    // Node's own message, which names both files.
    if (e && e.code === 'ERR_REQUIRE_ESM' &&
        String(e.message).startsWith('require() of ES Module ' + file + ' ')) {
      throw new Error(file + ' is an ES module but was loaded as CommonJS: name it .mjs or set "type": "module" in package.json');
    }
    throw new Error(describe(e, file, esm));
  }
  const ep = entryPoint(mod, f.entryPoint || null, file);
  return { fn: ep.fn, self: ep.self, file };
}

module.exports = { loadFunction, userStack, isESModule, esmSyntaxLocation };
