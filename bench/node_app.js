// The benchmark app for Node's http: node bench/node_app.js PORT
'use strict';
const http = require('http');
const bodies = { '/': Buffer.from('Hello, World!'), '/4k': Buffer.alloc(4096, 'x'), '/64k': Buffer.alloc(65536, 'x') };
http.createServer((req, res) => {
  if (req.url === '/echo') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => res.end(Buffer.concat(chunks)));
    return;
  }
  res.end(bodies[req.url] || bodies['/']);
}).listen(Number(process.argv[2]), '127.0.0.1');
