// entry.js -- load an app of the v4 programming model (npm @azure/functions
// 4.x): its package.json "main" names the entry file, or a glob pattern of
// several (`src/functions/*.js`), and those files register the app's
// functions through @azure/functions-core (core.js) as they are loaded.
// CommonJS files are required; `.mjs` files and `.js` files of a "type":
// "module" package are imported. A file that fails to load (a syntax error,
// a missing module, a registration the package refuses) is reported with its
// file and line, and the other files are loaded all the same.
//
// index() makes the document of `worker.js --index` from what was loaded:
// each function as function.json would declare it.
'use strict';

const fs = require('fs');
const path = require('path');
const core = require('./core');
const { isESModule, esmSyntaxLocation } = require('./loader');

const GLOB_CHARS = /[*?[\]{}]/;
const MAX_FILES = 10000;

// The app's package.json, parsed; throws a message naming the file.
function readPackage(root) {
  const file = path.join(root, 'package.json');
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error('package.json: cannot be read: ' + e.message);
  }
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new Error('package.json: invalid JSON: ' + e.message);
  }
}

// {a,b} alternatives expanded (nested ones too).
function expandBraces(pattern) {
  const open = pattern.indexOf('{');
  if (open < 0) return [pattern];
  let depth = 0;
  const parts = [];
  let start = open + 1;
  for (let i = open; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '{') depth++;
    else if (c === '}' && --depth === 0) {
      parts.push(pattern.slice(start, i));
      const head = pattern.slice(0, open);
      const tail = pattern.slice(i + 1);
      const out = [];
      for (const p of parts) for (const e of expandBraces(head + p + tail)) out.push(e);
      return out;
    } else if (c === ',' && depth === 1) {
      parts.push(pattern.slice(start, i));
      start = i + 1;
    }
  }
  return [pattern];  // an unbalanced brace is a character
}

// A glob pattern (braces expanded) as a RegExp over paths relative to the
// app root with / separators: ** any folders, * and ? within a name (not a
// leading dot), [...] a character class.
function globRegExp(pattern) {
  let re = '';
  const segs = pattern.split('/');
  for (let s = 0; s < segs.length; s++) {
    const seg = segs[s];
    const last = s === segs.length - 1;
    if (seg === '**') {
      re += last ? '(?:[^/.][^/]*)(?:/[^/.][^/]*)*' : '(?:[^/.][^/]*/)*';
      continue;
    }
    let r = '';
    for (let i = 0; i < seg.length; i++) {
      const c = seg[i];
      if (c === '*') r += (i === 0 ? '(?![.])' : '') + '[^/]*';
      else if (c === '?') r += (i === 0 ? '(?![.])' : '') + '[^/]';
      else if (c === '[') {
        const end = seg.indexOf(']', i + 1);
        if (end < 0) {
          r += '\\[';
        } else {
          let cls = seg.slice(i + 1, end).replace(/\\/g, '\\\\');
          if (cls[0] === '!') cls = '^' + cls.slice(1);
          r += '[' + cls + ']';
          i = end;
        }
      } else r += c.replace(/[.+^$()|\\]/g, '\\$&');
    }
    re += r + (last ? '' : '/');
  }
  return new RegExp('^' + re + '$');
}

// The files of root whose relative path matches pattern, sorted; folders
// named node_modules and dot folders are not searched unless the pattern
// names them.
function globFiles(root, pattern) {
  const out = new Set();
  for (const p of expandBraces(pattern)) {
    const segs = p.split('/');
    let i = 0;
    while (i < segs.length - 1 && !GLOB_CHARS.test(segs[i])) i++;
    const base = segs.slice(0, i).join('/');
    const re = globRegExp(p);
    const deep = segs.slice(i).some((s) => s === '**') || segs.length - i > 1;
    const walk = (rel, depth) => {
      let ents;
      try {
        ents = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
      } catch (e) {
        return;
      }
      for (const d of ents) {
        if (out.size >= MAX_FILES) return;
        const r = rel ? rel + '/' + d.name : d.name;
        let isDir = d.isDirectory();
        let isFile = d.isFile();
        if (d.isSymbolicLink()) {
          const st = fs.statSync(path.join(root, r), { throwIfNoEntry: false });
          isDir = !!st && st.isDirectory();
          isFile = !!st && st.isFile();
        }
        if (isFile && re.test(r)) out.add(r);
        else if (isDir && deep && depth < 40 &&
                 ((d.name !== 'node_modules' && d.name[0] !== '.') || p.includes(d.name))) {
          walk(r, depth + 1);
        }
      }
    };
    walk(base, 0);
  }
  return Array.from(out).sort();
}

// The entry files package.json "main" names, relative to root (/ separated).
function entryFiles(root, main) {
  const pattern = main.replace(/\\/g, '/').replace(/^(\.\/)+/, '');
  if (!GLOB_CHARS.test(pattern)) {
    let file = pattern;
    const abs = path.resolve(root, file);
    const st = fs.statSync(abs, { throwIfNoEntry: false });
    if (!st) throw new Error('package.json: "main" names ' + main + ', which does not exist');
    if (st.isDirectory()) {
      // As require() resolves a folder: its index.js.
      const idx = ['index.js', 'index.mjs', 'index.cjs'].find((n) => fs.existsSync(path.join(abs, n)));
      if (!idx) throw new Error('package.json: "main" names the folder ' + main + ', which has no index.js');
      file = path.relative(root, path.join(abs, idx)).split(path.sep).join('/');
    } else {
      file = path.relative(root, abs).split(path.sep).join('/');
    }
    return [file];
  }
  const files = globFiles(root, pattern);
  if (files.length === 0) throw new Error('package.json: "main" pattern ' + main + ' matches no file');
  return files;
}

// The first place in err's stack that is the app's own code (under root,
// outside node_modules): {file (relative), line}, or null.
function userFrame(stack, root) {
  const prefix = root.endsWith(path.sep) ? root : root + path.sep;
  for (const line of String(stack || '').split('\n')) {
    const m = /^\s+at (?:.*?\()?(?:file:\/\/)?(\/[^()]*?):(\d+):(\d+)\)?\s*$/.exec(line);
    if (!m) continue;
    const file = decodeURIComponentSafe(m[1]);
    if (!file.startsWith(prefix) || file.includes(path.sep + 'node_modules' + path.sep)) continue;
    return { file: path.relative(root, file).split(path.sep).join('/'), line: Number(m[2]) };
  }
  return null;
}

function decodeURIComponentSafe(s) {
  try {
    return decodeURIComponent(s);
  } catch (e) {
    return s;
  }
}

// The text of an error while loading entry file rel: "file, line N:
// Name: message" (the line of the user's code that failed).
function describe(err, root, rel, esm) {
  const abs = path.join(root, rel);
  if (!(err instanceof Error)) return rel + ': threw ' + String(err) + ' while loading';
  const first = String(err.message).split('\n', 1)[0];
  if (err.name === 'SyntaxError') {
    const stack = String(err.stack || '');
    const head = stack.split('\n', 1)[0];
    let m = /^(\/.*):(\d+)$/.exec(head);
    if (!m && esm) {
      const where = esmSyntaxLocation(abs);
      if (where) m = /^(\/.*):(\d+)/.exec(where.split('\n', 1)[0]);
    }
    if (m) {
      const file = path.relative(root, m[1]).split(path.sep).join('/');
      return file + ', line ' + m[2] + ': SyntaxError: ' + first;
    }
  }
  // The package itself missing: say how to get it.
  const hint = err.code === 'MODULE_NOT_FOUND' && /'@azure\/functions'/.test(first)
    ? ' (install it in the app folder: npm install @azure/functions)' : '';
  const at = userFrame(err.stack, root);
  if (at) return at.file + ', line ' + at.line + ': ' + err.name + ': ' + first + hint;
  return rel + ': ' + err.name + ': ' + first + hint;
}

// Load the app's entry files once: resolves to { files, errors } with
// errors [{function, error}]; the registrations are in core.state.
let loaded = null;
function loadApp(root) {
  if (!loaded) loaded = load(root);
  return loaded;
}

async function load(root) {
  core.install();
  const errors = [];
  let files = [];
  try {
    const pkg = readPackage(root);
    if (pkg === null || typeof pkg !== 'object' || pkg.main === undefined || pkg.main === '') {
      throw new Error('package.json: no "main" naming the entry file of the app\'s functions ' +
        '(e.g. "main": "src/functions/*.js")');
    }
    if (typeof pkg.main !== 'string') {
      throw new Error('package.json: "main" must be a string (a file or a glob pattern such as ' +
        '"src/functions/*.js"), not ' + (Array.isArray(pkg.main) ? 'an array' : typeof pkg.main));
    }
    files = entryFiles(root, pkg.main);
  } catch (e) {
    errors.push({ function: null, error: e.message });
    return { files, errors };
  }
  for (const rel of files) {
    const abs = path.join(root, rel);
    const esm = isESModule(abs);
    core.state.file = rel;
    try {
      if (esm) await require('./esm')(require('url').pathToFileURL(abs).href);
      else require(abs);
    } catch (e) {
      if (e && e.code === 'ERR_REQUIRE_ESM' && String(e.message).startsWith('require() of ES Module ' + abs + ' ')) {
        errors.push({ function: null, error: rel + ': an ES module loaded as CommonJS: name it .mjs or set "type": "module" in package.json' });
      } else {
        errors.push({ function: null, error: describe(e, root, rel, esm) });
      }
    }
  }
  core.state.file = null;
  for (const d of core.state.duplicates) {
    const at = userFrame(d.stack, root);
    errors.push({
      function: d.name,
      error: (at ? at.file + ', line ' + at.line : d.file) + ': function "' + d.name +
        '" is registered a second time (first in ' + d.first + '); the second is ignored',
    });
  }
  return { files, errors };
}

// "hh:mm:ss" (with days, "d.hh:mm:ss") of an RpcDuration ({seconds}).
function timeSpan(d) {
  if (d === null || d === undefined) return undefined;
  let s = typeof d === 'object' ? Number(d.seconds || 0) : Number(d);
  if (!Number.isFinite(s) || s < 0) return undefined;
  s = Math.round(s);
  const two = (n) => String(n).padStart(2, '0');
  const days = Math.floor(s / 86400);
  const rest = s % 86400;
  const hms = two(Math.floor(rest / 3600)) + ':' + two(Math.floor((rest % 3600) / 60)) + ':' + two(rest % 60);
  return days ? days + '.' + hms : hms;
}

// function.json's "retry" from the package's retryOptions.
function retryOf(r) {
  if (!r || typeof r !== 'object') return undefined;
  const out = { strategy: r.strategy || r.retryStrategy, maxRetryCount: r.maxRetryCount };
  if (out.strategy === 'fixedDelay') out.delayInterval = timeSpan(r.delayInterval);
  else {
    out.minimumInterval = timeSpan(r.minimumInterval);
    out.maximumInterval = timeSpan(r.maximumInterval);
  }
  return out;
}

// A registered function's bindings as function.json lists them: every
// field the package gave, in a list with each binding's name (the RPC-only
// `properties` left out), methods in lower case.
function bindingsOf(metadata) {
  const out = [];
  for (const name of Object.keys(metadata.bindings)) {
    const b = metadata.bindings[name] || {};
    const o = { name, type: b.type, direction: b.direction };
    for (const k of Object.keys(b)) {
      if (k === 'properties' || k === 'name' || typeof b[k] === 'function') continue;
      o[k] = b[k];
    }
    if (Array.isArray(o.methods)) o.methods = o.methods.map((m) => String(m).toLowerCase());
    out.push(o);
  }
  return out;
}

// The document of `worker.js --index`.
async function index(root) {
  const { errors } = await loadApp(root);
  const functions = [];
  for (const [name, reg] of core.state.functions) {
    const f = { name, scriptFile: reg.file, entryPoint: name, bindings: bindingsOf(reg.metadata) };
    const retry = retryOf(reg.metadata.retryOptions);
    if (retry) f.retry = retry;
    functions.push(f);
  }
  return { functions, errors };
}

// `worker.js --index`: write the index document to descriptor
// STRATUS_INDEX_FD (3), close it and exit 0. What user code prints goes to
// stdout and stderr; only the document goes to the descriptor.
function indexMode() {
  const fd = Number(process.env.STRATUS_INDEX_FD || 3);
  const root = process.cwd();
  const done = (doc) => {
    const buf = Buffer.from(JSON.stringify(doc) + '\n');
    try {
      let off = 0;
      while (off < buf.length) {
        try {
          off += fs.writeSync(fd, buf, off, buf.length - off);
        } catch (e) {
          if (e.code !== 'EAGAIN') throw e;
        }
      }
      fs.closeSync(fd);
    } catch (e) {
      process.stderr.write('stratus node worker: cannot write the index to descriptor ' + fd + ': ' +
        e.message + '\n');
      process.exit(2);
    }
    process.exit(0);
  };
  index(root).then(done, (e) => done({
    functions: [],
    errors: [{ function: null, error: 'indexing failed: ' + (e && e.stack || e) }],
  }));
}

module.exports = { indexMode, loadApp, index, entryFiles, globFiles, userFrame, timeSpan };
