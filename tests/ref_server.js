// Reference server for the differential tests: Node's http.Server with deterministic
// listeners. Prints one JSON line per event; stdin commands: close, closeIdle, closeAll,
// conns, sync, exit. Usage: node ref_server.js <port> [configJSON]
'use strict';
const http = require('http');

const port = Number(process.argv[2] || 0);
const cfg = JSON.parse(process.argv[3] || '{}');
const unlisten = new Set(cfg.unlisten || []);
const server = http.createServer(cfg.options || {});
for (const [k, v] of Object.entries(cfg.knobs || {})) server[k] = v;

const t0 = Date.now();
let nextId = 0;
function log(o) { o.t = Date.now() - t0; process.stdout.write(JSON.stringify(o) + '\n'); }
function id(socket) {
  if (socket._refId === undefined) {
    socket._refId = ++nextId;
    socket.on('close', () => log({ ev: 'socket.close', conn: socket._refId }));
  }
  return socket._refId;
}
function on(ev, fn) { if (!unlisten.has(ev)) server.on(ev, fn); }

function afterBody(req, fn) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => fn(Buffer.concat(chunks)));
}

function respond(req, res, body) {
  const path = req.url.split('?')[0];
  let m;
  if (path === '/' || path === '/hello') return res.end('hello');
  if (path === '/chunked') { res.write('hel'); return res.end('lo'); }
  if (path === '/empty') return res.end();
  if (path === '/cl') { res.writeHead(200, { 'Content-Length': '5' }); return res.end('hello'); }
  if (path === '/te') { res.writeHead(200, { 'Transfer-Encoding': 'chunked' }); return res.end('hello'); }
  if (path === '/writehead-end') { res.writeHead(200); return res.end(); }
  if (path === '/writehead-end-data') { res.writeHead(200); return res.end('hello'); }
  if ((m = /^\/status\/(\d+)$/.exec(path))) { res.statusCode = Number(m[1]); return res.end('body'); }
  if ((m = /^\/delay\/(\d+)$/.exec(path))) { setTimeout(() => res.end('delayed'), Number(m[1])); return; }
  if ((m = /^\/slowbody\/(\d+)$/.exec(path))) { res.write('part1'); setTimeout(() => res.end('part2'), Number(m[1])); return; }
  if (path === '/never') return;
  if (path === '/echo') return res.end(Buffer.concat([Buffer.from('got:' + body.length + ':'), body]));  // the bytes, as ref_server.py
  if (path === '/early-hints') { res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' }); return res.end('ok'); }
  if (path === '/early-hints-multi') {
    res.writeEarlyHints({ link: ['</a.css>; rel=preload; as=style', '</b.js>; rel=preload; as=script'], 'x-hint': 'yes' });
    return res.end('ok');
  }
  if (path === '/processing') { res.writeProcessing(); return res.end('ok'); }
  if (path === '/write-continue') { res.writeContinue(); return res.end('ok'); }
  if (path === '/conn-close') { res.setHeader('Connection', 'close'); return res.end('bye'); }
  if (path === '/conn-keepalive') { res.setHeader('Connection', 'keep-alive'); return res.end('ka'); }
  if (path === '/nodate') { res.sendDate = false; return res.end('x'); }
  if (path === '/headers') return res.end(JSON.stringify({ raw: req.rawHeaders, headers: req.headers }));
  if (path === '/custom-headers') {
    res.setHeader('X-A', '1'); res.setHeader('Set-Cookie', ['a=1', 'b=2']); res.setHeader('Content-Type', 'text/plain');
    return res.end('x');
  }
  if (path === '/flush') { res.flushHeaders(); setTimeout(() => res.end('late'), 50); return; }
  if (path === '/write-empty-end') { res.write(''); return res.end(); }
  if (path === '/close-server') { server.close(() => log({ ev: 'close.cb' })); setTimeout(() => res.end('closing'), 300); return; }
  res.statusCode = 404; res.end('not found');
}

function handle(req, res) {
  res.on('finish', () => log({ ev: 'res.finish', conn: id(req.socket), url: req.url }));
  if (req.url.split('?')[0] === '/sync') return res.end('sync');
  afterBody(req, (body) => respond(req, res, body));
}

server.on('connection', (socket) => { log({ ev: 'accept', conn: id(socket), port: socket.remotePort }); socket.on('error', (e) => log({ ev: 'socket.error', conn: id(socket), code: e.code })); });
on('connection', (socket) => log({ ev: 'connection', conn: id(socket) }));
on('request', (req, res) => { log({ ev: 'request', conn: id(req.socket), method: req.method, url: req.url, v: req.httpVersion }); handle(req, res); });
on('checkContinue', (req, res) => {
  log({ ev: 'checkContinue', conn: id(req.socket), url: req.url });
  if (req.url.startsWith('/reject')) { res.writeHead(417, { 'Content-Length': '0' }); res.end(); return; }
  res.writeContinue();
  handle(req, res);
});
on('checkExpectation', (req, res) => {
  log({ ev: 'checkExpectation', conn: id(req.socket), expect: req.headers.expect });
  res.writeHead(417, { 'X-Expect-Seen': req.headers.expect });
  res.end('unsupported expectation');
});
const STATUS = { HPE_HEADER_OVERFLOW: 431, HPE_CHUNK_EXTENSIONS_OVERFLOW: 413, ERR_HTTP_REQUEST_TIMEOUT: 408 };
on('clientError', (err, socket) => {
  log({ ev: 'clientError', conn: id(socket), code: err.code, bytesParsed: err.bytesParsed === undefined ? null : err.bytesParsed });
  if (cfg.clientErrorMode === 'noop') return;
  const res = socket._httpMessage;
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable || (res && res.headersSent)) {
    socket.destroy();
    return;
  }
  const status = STATUS[err.code] || 400;
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nX-Client-Error: ${err.code}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
});
function tunnel(ev, req, socket, head, first) {
  log({ ev, conn: id(socket), url: req.url, head: head.toString('latin1') });
  socket.write(first);
  if (head.length) socket.write(head);
  socket.on('data', (d) => socket.write(d));
  socket.on('end', () => socket.end());
}
on('connect', (req, socket, head) => tunnel('connect', req, socket, head, 'HTTP/1.1 200 Connection Established\r\n\r\n'));
on('upgrade', (req, socket, head) => tunnel('upgrade', req, socket, head,
  `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade}\r\nConnection: Upgrade\r\n\r\n`));
on('dropRequest', (req, socket) => log({ ev: 'dropRequest', conn: id(socket), url: req.url }));
on('timeout', (socket) => { log({ ev: 'timeout', conn: id(socket) }); if (cfg.timeoutMode !== 'noop') socket.destroy(); });
on('close', () => log({ ev: 'close' }));

process.stdin.setEncoding('utf8');
let pending = '';
process.stdin.on('data', (d) => {
  pending += d;
  let i;
  while ((i = pending.indexOf('\n')) >= 0) {
    const cmd = pending.slice(0, i).trim();
    pending = pending.slice(i + 1);
    if (cmd === 'close') server.close(() => log({ ev: 'close.cb' }));
    else if (cmd === 'closeIdle') server.closeIdleConnections();
    else if (cmd === 'closeAll') server.closeAllConnections();
    else if (cmd === 'sync') log({ ev: 'sync' });
    else if (cmd === 'exit') process.exit(0);
  }
});
process.stdin.on('end', () => process.exit(0));
server.listen(port, '127.0.0.1', () => log({ ev: 'listening', port: server.address().port }));
