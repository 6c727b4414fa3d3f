// form.js -- req.parseFormBody(): an application/x-www-form-urlencoded or
// multipart/form-data body as the v3 model's Form, whose parts are
// {value: Buffer, fileName?, contentType?}. Loaded only when used.
'use strict';

class Form {
  constructor(parts) {
    this.parts = parts; // [[name, part]]
  }

  get(name) {
    const p = this.parts.find((e) => e[0] === name);
    return p ? p[1] : null;
  }

  getAll(name) {
    return this.parts.filter((e) => e[0] === name).map((e) => e[1]);
  }

  has(name) {
    return this.parts.some((e) => e[0] === name);
  }

  get length() {
    return this.parts.length;
  }

  [Symbol.iterator]() {
    return this.parts[Symbol.iterator]();
  }
}

// A header parameter such as boundary=... or name="..." (quotes optional).
function param(header, key) {
  const re = new RegExp('(?:^|;)\\s*' + key + '\\s*=\\s*(?:"([^"]*)"|([^;]*))', 'i');
  const m = re.exec(header);
  return m ? (m[1] !== undefined ? m[1] : m[2].trim()) : undefined;
}

function parseMultipart(body, boundary) {
  const parts = [];
  const delim = Buffer.from('--' + boundary);
  let pos = body.indexOf(delim);
  if (pos < 0) throw new Error('req.parseFormBody: the body has no part delimited by boundary ' + boundary);
  for (;;) {
    pos += delim.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break; // the closing "--boundary--"
    if (body[pos] === 0x0d && body[pos + 1] === 0x0a) pos += 2;
    const next = body.indexOf(delim, pos);
    if (next < 0) throw new Error('req.parseFormBody: the multipart body is not closed by --' + boundary + '--');
    const part = body.subarray(pos, next);
    const headEnd = part.indexOf('\r\n\r\n');
    if (headEnd < 0) throw new Error('req.parseFormBody: a multipart part has no header block');
    const headers = {};
    for (const line of part.subarray(0, headEnd).toString('utf8').split('\r\n')) {
      const c = line.indexOf(':');
      if (c > 0) headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
    }
    let end = part.length;
    if (part[end - 2] === 0x0d && part[end - 1] === 0x0a) end -= 2;
    const disp = headers['content-disposition'] || '';
    const name = param(disp, 'name') || '';
    const value = { value: Buffer.from(part.subarray(headEnd + 4, end)) };
    const fileName = param(disp, 'filename');
    if (fileName !== undefined) value.fileName = fileName;
    if (headers['content-type']) value.contentType = headers['content-type'];
    parts.push([name, value]);
    pos = next;
  }
  return parts;
}

// The Form of body (a Buffer) sent with the given Content-Type header.
function parseForm(body, contentType) {
  const type = contentType.split(';')[0].trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') {
    const parts = [];
    for (const [k, v] of new URLSearchParams(body.toString('utf8'))) parts.push([k, { value: Buffer.from(v) }]);
    return new Form(parts);
  }
  if (type === 'multipart/form-data') {
    const boundary = param(contentType, 'boundary');
    if (!boundary) throw new Error('req.parseFormBody: the multipart/form-data content type has no boundary');
    return new Form(parseMultipart(body, boundary));
  }
  throw new Error('req.parseFormBody: content type ' + JSON.stringify(contentType || '(none)') +
    ' is neither application/x-www-form-urlencoded nor multipart/form-data');
}

module.exports = { parseForm };
