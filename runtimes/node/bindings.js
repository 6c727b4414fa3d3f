// bindings.js -- binding values of the v3 model for triggers and bindings
// other than HTTP: the trigger value and input values a function receives
// (as its parameters and in context.bindings), context.bindingData, and
// output values back to the protocol's convention.
//
// As Azure's Node.js worker (v3 model) does: text is parsed as JSON when
// it is JSON (a queue message {"a": 1} arrives as an object, "42" as a
// number), bytes are a Buffer, a timer's TimerInfo has camelCase keys
// (isPastDue), binding data keys are camelCase. Protocol values
// (docs/worker-protocol.md): a string is text, {"$binary": "<base64>"} is
// bytes, anything else is JSON data.
'use strict';

// Azure's rule for strings: JSON when it parses, else the text; an empty
// text is no value at all (undefined). Text that cannot be JSON (its first
// character after white space starts no JSON value) is not tried, which
// spares the exception of a failed parse.
function parsed(text) {
  if (text === '') return undefined;
  let i = 0;
  let c = text.charCodeAt(0);
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(++i);
  if (!(c === 0x7b || c === 0x5b || c === 0x22 || (c >= 0x30 && c <= 0x39) || c === 0x2d ||
        c === 0x74 || c === 0x66 || c === 0x6e)) return text;
  try {
    return JSON.parse(text);
  } catch (e) {
    return text;
  }
}

function isBinary(v) {
  if (v === null || typeof v !== 'object' || typeof v.$binary !== 'string') return false;
  for (const k in v) if (k !== '$binary') return false;
  return true;
}

function lowerFirst(k) {
  return k ? k.charAt(0).toLowerCase() + k.slice(1) : k;
}

// Object keys camelCased at every depth (arrays kept as they are).
function camelDeep(obj) {
  const out = {};
  for (const k in obj) {
    const v = obj[k];
    out[lowerFirst(k)] = v !== null && typeof v === 'object' && !Array.isArray(v) &&
      !Buffer.isBuffer(v) ? camelDeep(v) : v;
  }
  return out;
}

// What a binding's type and dataType make of its bytes: 'buffer' for blobs
// and dataType binary (a blob with dataType string is text), else 'text'.
function kindOf(binding) {
  const type = String(binding.type || '').toLowerCase();
  const dataType = String(binding.dataType || '').toLowerCase();
  if (dataType === 'binary' || dataType === 'stream') return 'buffer';
  if (dataType === 'string') return 'text';
  if (type === 'blob' || type === 'blobtrigger') return 'buffer';
  return 'text';
}

// The trigger value from the INVOKE body (a Buffer) for trigger binding b.
function triggerValue(body, b) {
  const type = String(b.type || '').toLowerCase();
  if (kindOf(b) === 'buffer') return body;
  const text = body.toString('utf8');
  if (type === 'timertrigger') {
    const v = parsed(text);
    // Run by hand (the admin API's input, often ""), it is still a TimerInfo,
    // as Azure makes one whatever the input.
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? camelDeep(v)
      : { schedule: { adjustForDST: true }, scheduleStatus: null, isPastDue: false };
  }
  return parsed(text);
}

// An input binding's value from INVOKE's inputs: nothing found (null) is
// undefined, as Azure's worker hands it over; bytes become a Buffer (or text
// for dataType string), text becomes a Buffer for blobs, else JSON when it
// parses.
function inputValue(v, b) {
  if (v === undefined || v === null) return undefined;
  const kind = kindOf(b);
  if (isBinary(v)) {
    const buf = Buffer.from(v.$binary, 'base64');
    return kind === 'buffer' ? buf : parsed(buf.toString('utf8'));
  }
  if (typeof v === 'string') return kind === 'buffer' ? Buffer.from(v, 'utf8') : parsed(v);
  return v;
}

// context.bindingData of a non-HTTP invocation: the trigger metadata with
// camelCase keys (top-level text parsed as JSON when it is JSON, as Azure
// does), invocationId, and sys.
function bindingData(meta, invocationId, fnName) {
  const data = { invocationId };
  const tm = meta.triggerMetadata;
  if (tm !== null && typeof tm === 'object') {
    for (const k in tm) {
      let v = tm[k];
      if (typeof v === 'string' && v !== '') v = parsed(v);
      data[lowerFirst(k)] = v !== null && typeof v === 'object' && !Array.isArray(v)
        ? camelDeep(v) : v;
    }
  }
  if (data.sys === undefined) {
    data.sys = {
      methodName: fnName,
      utcNow: new Date().toISOString(),
      randGuid: require('crypto').randomUUID(),
    };
  }
  return data;
}

function bytesOf(v) {
  if (v instanceof Uint8Array || ArrayBuffer.isView(v)) {
    return { $binary: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
  }
  if (v instanceof ArrayBuffer) return { $binary: Buffer.from(v).toString('base64') };
  return null;
}

// One value to write: bytes become {"$binary"}; an object of the user's
// that looks like that marker goes as its JSON text, which is what is
// written for any other object.
function oneValue(v) {
  const bytes = bytesOf(v);
  if (bytes !== null) return bytes;
  return isBinary(v) ? JSON.stringify(v) : v;
}

// An output value in the protocol's convention (see oneValue). For a
// queue, an array is one message per element, each converted so; for
// other bindings an array is one value, written as its JSON (a Buffer in
// it as JSON.stringify writes it, as in Azure).
function outputValue(v, queue) {
  if (Array.isArray(v)) {
    if (!queue) return v;
    let out = null;
    for (let i = 0; i < v.length; i++) {
      const e = v[i];
      if (e !== null && typeof e === 'object') {
        const c = oneValue(e);
        if (c !== e) {
          if (out === null) out = v.slice();
          out[i] = c;
        }
      }
    }
    return out === null ? v : out;
  }
  return v !== null && typeof v === 'object' ? oneValue(v) : v;
}

module.exports = { triggerValue, inputValue, bindingData, outputValue, camelDeep, lowerFirst, parsed };
