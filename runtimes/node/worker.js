// worker.js -- the entry point of the Stratus worker for Node.js apps: the
// host runs `node [arguments] worker.js [--code-cache FILE]` with the app
// root as working directory and the channel on fd STRATUS_WORKER_FD. It
// loads main.js (the worker itself) and the shim modules main.js requires.
//
// With --code-cache, the shim's modules are compiled with V8's code cache
// kept in FILE: a worker started for a request then runs the shim without
// parsing and compiling it first, which is about half of what a new worker
// costs beyond node's own start. The file holds, per module, its source and
// the code V8 made for it; a module whose source differs (another version of
// Stratus wrote the file) or whose code V8 refuses (another node, other V8
// flags) is compiled afresh, and a second after such a miss the worker
// writes the file anew (a temp file renamed over it), after the code of its
// first invocations has been compiled too. Errors reading or writing the
// file cost only the speed-up; the host removes it when a worker ends
// unexpectedly, in case what V8 took from it was damaged. Without
// --code-cache (or without node's vm module) the modules are plain
// require()s.
//
// With --index, there is no channel: the worker loads the app's entry files
// (v4 programming model), writes the functions they registered to the
// descriptor STRATUS_INDEX_FD as one JSON document and exits (entry.js).
'use strict';

const fs = require('fs');
const path = require('path');

const FORMAT = 'stratus-node-code-cache/2';
const SAVE_DELAY_MS = 1000;
// The module wrapper of CommonJS, on the first line so that line numbers in
// stack traces are the file's own.
const HEAD = '(function (exports, require, module, __filename, __dirname) { ';
const TAIL = '\n})';

const cacheFile = codeCacheArgument(process.argv.slice(2));
let vm = null;
if (cacheFile) {
  try {
    vm = require('vm');
  } catch (e) {
    vm = null;
  }
}

const modules = new Map();   // file name -> { module, script, src }
const cached = vm ? readCache(cacheFile) : new Map();
let saveTimer = null;

function codeCacheArgument(args) {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--code-cache' && i + 1 < args.length) return args[i + 1];
    if (args[i].startsWith('--code-cache=')) return args[i].slice('--code-cache='.length);
  }
  return null;
}

// name -> { src, data } from the cache file; empty when there is none, or
// it is not one of ours, or of another node. The file is text (read by
// node's one-call UTF-8 path): a header line, then per module its source
// and its code in base64.
function readCache(file) {
  const out = new Map();
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return out;
  }
  const nl = text.indexOf('\n');
  if (nl < 0) return out;
  let head;
  try {
    head = JSON.parse(text.slice(0, nl));
  } catch (e) {
    return out;
  }
  if (!head || head.format !== FORMAT || head.node !== process.version ||
      !Array.isArray(head.modules)) return out;
  let pos = nl + 1;
  for (const m of head.modules) {
    if (!Array.isArray(m) || typeof m[0] !== 'string' || !Number.isInteger(m[1]) ||
        !Number.isInteger(m[2]) || m[1] < 0 || m[2] < 0 || pos + m[1] + m[2] > text.length) {
      return new Map();
    }
    out.set(m[0], { src: text.slice(pos, pos + m[1]), data: text.slice(pos + m[1], pos + m[1] + m[2]) });
    pos += m[1] + m[2];
  }
  return out;
}

function scheduleSave() {
  if (saveTimer) return;
  saveTimer = setTimeout(saveCache, SAVE_DELAY_MS);
  saveTimer.unref();
}

function saveCache() {
  const list = [];
  const parts = [];
  for (const [name, m] of modules) {
    let data;
    try {
      data = m.script.createCachedData().toString('base64');
    } catch (e) {
      continue;
    }
    list.push([name, m.src.length, data.length]);
    parts.push(m.src, data);
  }
  const head = JSON.stringify({ format: FORMAT, node: process.version, modules: list }) + '\n';
  const tmp = cacheFile + '.' + process.pid + '.tmp';
  try {
    fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
    fs.writeFileSync(tmp, head + parts.join(''));
    fs.renameSync(tmp, cacheFile);
  } catch (e) {
    try {
      fs.unlinkSync(tmp);
    } catch (e2) { /* it was not written */ }
  }
}

// require() for the shim's modules: './name' is a module of this folder,
// anything else (node's own modules, a function's file) is node's require.
// esm.js stays node's: an import() only works in code node compiled.
function shimRequire(id) {
  if (!id.startsWith('./') || id === './esm') return require(id);
  const name = id.slice(2) + (id.endsWith('.js') ? '' : '.js');
  const m = modules.get(name);
  return m ? m.module.exports : load(name);
}
shimRequire.resolve = require.resolve;

function load(name) {
  const file = path.join(__dirname, name);
  const src = fs.readFileSync(file, 'utf8');
  const c = cached.get(name);
  const data = c && c.src === src ? Buffer.from(c.data, 'base64') : undefined;
  const script = new vm.Script(HEAD + src + TAIL, { filename: file, cachedData: data });
  if (script.cachedDataRejected !== false) scheduleSave();  // none given, or refused
  const module = { exports: {}, id: file, filename: file };
  modules.set(name, { module, script, src });
  script.runInThisContext().call(module.exports, module.exports, shimRequire, module, file, __dirname);
  return module.exports;
}

if (process.argv.includes('--index')) require('./entry').indexMode();
else if (vm) load('main.js');
else require('./main');
