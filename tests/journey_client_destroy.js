// Node's side of the destroy journeys (tests/test_journey_core_client.py): one request
// to a server of its own, destroyed at a stage. Usage: node journey_client_destroy.js
// <stage> [err]; prints the request's and response's events as JSON.
'use strict';
const http = require('http');
const srv = http.createServer((req, res) => {
  if (req.url === '/slow') { res.write('part'); setTimeout(() => res.end('rest'), 300); return; }
  if (req.url === '/never') return;
  setTimeout(() => res.end('hi'), 20);
});
const stage = process.argv[2];
const withErr = process.argv[3] === 'err';
srv.listen(0, '127.0.0.1', () => {
  const port = srv.address().port;
  const ev = [];
  const path = stage.startsWith('data') ? '/slow' : (stage === 'timeout' ? '/never' : '/');
  const req = http.request({ port, host: '127.0.0.1', path, agent: new http.Agent({ keepAlive: true }) });
  const kill = () => req.destroy(withErr ? new Error('boom') : undefined);
  req.on('socket', (s) => { ev.push('socket'); if (stage === 'socket') kill(); });
  req.on('finish', () => ev.push('finish'));
  req.on('response', (res) => {
    ev.push('response');
    res.on('data', (d) => { ev.push('data'); if (stage === 'data') kill(); if (stage === 'data-res') res.destroy(); });
    res.on('end', () => ev.push('end'));
    res.on('aborted', () => ev.push('res.aborted'));
    res.on('error', (e) => ev.push('res.error:' + e.code + ':' + e.message));
    res.on('close', () => ev.push('res.close'));
    if (stage === 'response') kill();
  });
  req.on('error', (e) => ev.push('error:' + (e.code || '') + ':' + e.message));
  req.on('timeout', () => { ev.push('timeout'); kill(); });
  req.on('close', () => { ev.push('close'); setTimeout(() => { console.log(JSON.stringify(ev)); process.exit(0); }, 100); });
  if (stage === 'timeout') req.setTimeout(100);
  req.end();
  if (stage === 'immediately') kill();
});
