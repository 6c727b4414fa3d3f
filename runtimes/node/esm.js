// esm.js -- import() of a function's ES module. It is a module of its own
// because worker.js may compile the other shim modules itself (with a code
// cache), and node runs import() only in code its own loader compiled.
'use strict';

module.exports = (url) => import(url);
