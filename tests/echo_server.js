// Echo server for the parser's differential fuzz (tests/test_http_parser_fuzz_node.py):
// Node's http.createServer with its defaults (no clientError, upgrade or connect listener);
// each request is answered on its 'end' with JSON [method, url, httpVersion, rawHeaders,
// headers, body length, rawTrailers, trailers]. Prints one JSON line per event (accept, request, listening,
// sync); stdin commands: sync, exit. Usage: node echo_server.js
'use strict';
const http = require('http');

const server = http.createServer();
let nextId = 0;
function log(o) { process.stdout.write(JSON.stringify(o) + '\n'); }
server.on('connection', (socket) => {
  socket._echoId = ++nextId;
  log({ ev: 'accept', conn: socket._echoId, port: socket.remotePort });
  socket.on('error', () => {});
});
server.on('request', (req, res) => {
  log({ ev: 'request', conn: req.socket._echoId, method: req.method, url: req.url, v: req.httpVersion });
  let length = 0;
  req.on('data', (c) => { length += c.length; });
  req.on('end', () => {
    res.end(JSON.stringify([req.method, req.url, req.httpVersion, req.rawHeaders, req.headers, length,
      req.rawTrailers, req.trailers]));
  });
});
process.stdin.setEncoding('utf8');
let pending = '';
process.stdin.on('data', (d) => {
  pending += d;
  let i;
  while ((i = pending.indexOf('\n')) >= 0) {
    const cmd = pending.slice(0, i).trim();
    pending = pending.slice(i + 1);
    if (cmd === 'sync') log({ ev: 'sync' });
    else if (cmd === 'exit') process.exit(0);
  }
});
process.stdin.on('end', () => process.exit(0));
server.listen(0, '127.0.0.1', () => log({ ev: 'listening', port: server.address().port }));
