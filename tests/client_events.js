// Runs one client scenario with Node's http client and prints the events as JSON.
// Usage: node client_events.js '<scenario JSON>'   (see tests/test_client.py)
'use strict';
const http = require('http');
const sc = JSON.parse(process.argv[2]);
const events = [];
const log = (...e) => events.push(e);
const opts = { host: '127.0.0.1', port: sc.port, method: sc.method || 'GET', path: sc.path || '/', headers: {} };
for (const [k, v] of sc.headers || []) opts.headers[k] = v;
if (sc.agent === false) opts.agent = false;
const req = http.request(opts);
req.on('socket', (s) => {
  log('socket', req.reusedSocket);
  if (!req.reusedSocket) s.on('connect', () => log('socket.connect'));
});
req.on('finish', () => log('finish'));
req.on('continue', () => { log('continue'); if (sc.continue_body !== undefined) req.end(sc.continue_body); });
req.on('information', (i) => log('information', i.statusCode, i.statusMessage, i.headers));
req.on('response', (res) => {
  log('response', res.statusCode, res.statusMessage, res.headers);
  const chunks = [];
  res.on('data', (d) => chunks.push(d));
  res.on('end', () => log('res.end', Buffer.concat(chunks).toString('latin1')));
  res.on('close', () => log('res.close'));
});
for (const ev of sc.listen || []) {
  req.on(ev, (res, socket, head) => { log(ev, res.statusCode, head.toString('latin1')); socket.destroy(); });
}
if (sc.timeout) req.setTimeout(sc.timeout, () => { log('timeout'); if (sc.destroy_on_timeout) req.destroy(); });
req.on('error', (e) => log('error', e.code, e.message));
req.on('close', () => { log('close'); setTimeout(() => { console.log(JSON.stringify(events)); process.exit(0); }, 50); });
for (const w of sc.writes || []) req.write(w);
if (sc.expect_continue) { req.flushHeaders(); } else if (sc.end !== null) req.end(sc.end);
