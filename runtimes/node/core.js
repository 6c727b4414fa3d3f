// core.js -- the module `@azure/functions-core`, which Azure's Node.js worker
// provides in-process and npm @azure/functions (the v4 programming model)
// talks to: require('@azure/functions-core') in any of the app's modules
// resolves to this module's api object (it is nowhere on disk). Through it
// the app registers its functions (registerFunction), its programming model
// (setProgrammingModel) and hooks (registerHook: appStart, appTerminate,
// preInvocation, postInvocation, log), which run for v3-model functions too.
//
// Functions can be registered only while the app's code is loaded
// (startup); finishStartup() closes that window.
'use strict';

const Module = require('module');

const HOOK_NAMES = ['appStart', 'appTerminate', 'preInvocation', 'postInvocation', 'log'];

class Disposable {
  static from(...disposables) {
    let list = disposables;
    return new Disposable(() => {
      if (!list) return;
      for (const d of list) if (d && typeof d.dispose === 'function') d.dispose();
      list = undefined;
    });
  }

  constructor(callOnDispose) {
    this.callOnDispose = callOnDispose;
  }

  dispose() {
    if (typeof this.callOnDispose === 'function') {
      const f = this.callOnDispose;
      this.callOnDispose = undefined;
      return f();
    }
    return undefined;
  }
}

const state = {
  model: null,               // the programming model the app set
  functions: new Map(),      // name -> { metadata, callback, file }
  duplicates: [],            // [{ name, file, stack, first }] registered twice
  hooks: { appStart: [], appTerminate: [], preInvocation: [], postInvocation: [], log: [] },
  appHookData: {},
  startupDone: false,
  file: null,                // the entry file being loaded (relative to the app root)
  logSink: null,             // (level, category, message) for lines outside an invocation
};

function systemError(message) {
  const e = new Error(message);
  e.isAzureFunctionsSystemError = true;
  return e;
}

function registerFunction(metadata, callback) {
  if (state.startupDone) throw systemError('A function can only be registered during app startup.');
  if (metadata === null || typeof metadata !== 'object' || typeof metadata.name !== 'string' ||
      metadata.name === '') {
    throw systemError('registerFunction: the metadata needs a "name"');
  }
  if (metadata.bindings === null || typeof metadata.bindings !== 'object') {
    throw systemError('registerFunction: function "' + metadata.name + '" has no "bindings"');
  }
  if (typeof callback !== 'function') {
    throw systemError('registerFunction: function "' + metadata.name + '" has no handler function');
  }
  const name = metadata.name;
  const first = state.functions.get(name);
  const reg = { metadata, callback, file: state.file };
  if (first) {
    // The first registration stays; the second is reported with its place.
    state.duplicates.push({ name, file: state.file, stack: new Error().stack, first: first.file });
    return new Disposable(() => {});
  }
  state.functions.set(name, reg);
  return new Disposable(() => {
    if (state.startupDone) throw systemError('A function can only be disposed during app startup.');
    if (state.functions.get(name) === reg) state.functions.delete(name);
  });
}

function registerHook(hookName, callback) {
  // The older name of appStart.
  const name = hookName === 'appStartup' ? 'appStart' : hookName;
  if (!HOOK_NAMES.includes(name)) {
    const e = new RangeError('"' + hookName + '" is not a valid hook name.');
    e.isAzureFunctionsSystemError = true;
    throw e;
  }
  if (typeof callback !== 'function') throw systemError('registerHook: the callback must be a function');
  const list = state.hooks[name];
  list.push(callback);
  return new Disposable(() => {
    const i = list.indexOf(callback);
    if (i >= 0) list.splice(i, 1);
  });
}

// Run the hooks of name in the order they were registered, one after the
// other, with the same context object (hooks may change its fields).
async function runHooks(name, context) {
  const list = state.hooks[name].slice();
  for (const cb of list) await cb(context);
}

function hasInvocationHooks() {
  return state.hooks.preInvocation.length !== 0 || state.hooks.postInvocation.length !== 0;
}

// coreApi.log(level, category, message): lines of the programming model
// that belong to no invocation.
function log(level, category, message) {
  if (state.logSink) state.logSink(level, category, message);
}

const api = {
  // The versions of Azure's Node.js worker and Functions host whose
  // @azure/functions-core this one matches (log() and the log hook included).
  version: '3.10.1',
  hostVersion: '4.1037.0',
  registerFunction,
  registerHook,
  setProgrammingModel(model) {
    state.model = model;
  },
  getProgrammingModel() {
    return state.model;
  },
  log,
  Disposable,
};

// Make require('@azure/functions-core') resolve to api in every module, as
// Azure's worker does.
let installed = false;
function install() {
  if (installed) return;
  installed = true;
  Module.prototype.require = new Proxy(Module.prototype.require, {
    apply(target, self, args) {
      if (args[0] === '@azure/functions-core') return api;
      return Reflect.apply(target, self, args);
    },
  });
}

function finishStartup() {
  state.startupDone = true;
}

module.exports = { api, state, install, runHooks, hasInvocationHooks, finishStartup, Disposable };
