// server.js -- the custom handler of this app: a web server written with
// Node.js's standard library only. Stratus starts it with `node server.js`
// (host.json customHandler) and tells it its port in
// FUNCTIONS_CUSTOMHANDLER_PORT.
//
// hello and products are forwarded as-is (enableForwardingHttpRequest: one
// httpTrigger and one http output): they see the caller's own request, at
// /api/hello and /api/products/... . orders has a second output binding, so
// Stratus calls it as POST /orders with {"Data": ..., "Metadata": ...} and
// reads {"Outputs": ..., "Logs": ..., "ReturnValue": ...} back.
'use strict';
const http = require('http');

const port = parseInt(process.env.FUNCTIONS_CUSTOMHANDLER_PORT || '3000', 10);
const greeting = process.env.GREETING || 'Hello';

function send(res, status, type, body) {
  res.writeHead(status, {'Content-Type': type});
  res.end(body);
}

function hello(req, res, url, body) {
  let name = url.searchParams.get('name');
  if (!name && body.length) {
    try { name = JSON.parse(body).name; } catch (e) { /* not JSON */ }
  }
  if (!name) {
    send(res, 200, 'text/plain; charset=utf-8',
         'This HTTP triggered function executed successfully. Pass a name in the query ' +
         'string or in the request body for a personalized response.\n');
    return;
  }
  send(res, 200, 'text/plain; charset=utf-8', `${greeting}, ${name}. This HTTP triggered ` +
       'function executed successfully.\n');
}

function products(req, res, url) {
  const [, , , category, id] = url.pathname.split('/');
  send(res, 200, 'application/json',
       JSON.stringify({category, id: id === undefined ? null : parseInt(id, 10)}) + '\n');
}

// POST /orders: the invocation as JSON; the answer sets the "res" output.
function orders(req, res, body) {
  const inv = JSON.parse(body);
  const request = inv.Data.req;
  let order;
  try { order = JSON.parse(request.Body || '{}'); } catch (e) { order = null; }
  const reply = (o) => send(res, 200, 'application/json', JSON.stringify(o));
  if (!order || !order.item) {
    reply({Outputs: {res: {statusCode: 400, body: {error: 'send {"item": ..., "quantity": ...}'}}},
           Logs: ['rejected an order without an item']});
    return;
  }
  const id = inv.Metadata.sys.RandGuid;
  reply({Outputs: {res: {statusCode: 201, headers: {Location: `/api/orders/${id}`},
                         body: {id, item: order.item, quantity: order.quantity || 1}}},
         Logs: [`order ${id}: ${order.quantity || 1} x ${order.item}`]});
}

http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    const url = new URL(req.url, 'http://localhost');
    try {
      if (url.pathname === '/') send(res, 200, 'text/plain', 'ready\n');
      else if (url.pathname === '/api/hello') hello(req, res, url, body);
      else if (url.pathname.startsWith('/api/products/')) products(req, res, url);
      else if (url.pathname === '/orders' && req.method === 'POST') orders(req, res, body);
      else send(res, 404, 'text/plain', 'not found\n');
    } catch (e) {
      console.error(e.stack);
      send(res, 500, 'text/plain', 'handler error\n');
    }
  });
}).listen(port, '127.0.0.1', () => console.log(`custom handler listening on ${port}`));
