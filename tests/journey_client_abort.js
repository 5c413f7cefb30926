// Node's side of the abort journeys (tests/test_journey_core_client.py): req.abort()
// before the socket, on it, mid-body. Usage: node journey_client_abort.js <stage>.
'use strict';
const http = require('http');
const srv = http.createServer((req, res) => { res.write('part'); setTimeout(() => res.end('rest'), 300); });
srv.listen(0, '127.0.0.1', () => {
  const stage = process.argv[2];
  const ev = [];
  const req = http.get({ port: srv.address().port, host: '127.0.0.1', agent: false }, (res) => {
    ev.push('response');
    res.on('data', () => { ev.push('data'); if (stage === 'data') req.abort(); });
    res.on('end', () => ev.push('end'));
    res.on('aborted', () => ev.push('res.aborted'));
    res.on('error', (e) => ev.push('res.error:' + e.code));
    res.on('close', () => ev.push('res.close'));
  });
  req.on('abort', () => ev.push('abort:' + req.aborted + ':' + req.destroyed));
  req.on('error', (e) => ev.push('error:' + e.code));
  req.on('socket', () => { ev.push('socket'); if (stage === 'socket') req.abort(); });
  req.on('close', () => { ev.push('close'); setTimeout(() => { console.log(JSON.stringify(ev)); process.exit(0); }, 100); });
  if (stage === 'now') req.abort();
});
