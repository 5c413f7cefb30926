// Node's side of the client journeys (tests/test_journey_core_client.py): requests in
// line on one agent. Usage: node journey_client.js '<scenario JSON>'; prints the events.
'use strict';
const http = require('http');
const sc = JSON.parse(process.argv[2]);
const agent = new http.Agent(sc.agent);
const events = [];
let done = 0;
for (const path of sc.paths) {
  const req = http.request({ host: '127.0.0.1', port: sc.port, path, agent }, (res) => {
    events.push(['response', path, res.statusCode]);
    if (sc.drain === 'resume') { res.resume(); res.on('end', () => events.push(['end', path])); return; }
    let body = '';
    res.on('data', (d) => { body += d; });
    res.on('end', () => events.push(['end', path, body]));
  });
  req.on('socket', () => events.push(['socket', path, req.reusedSocket]));
  req.on('error', (e) => events.push(['error', path, e.code]));
  req.on('close', () => {
    events.push(['close', path]);
    if (++done === sc.paths.length) { console.log(JSON.stringify(events)); process.exit(0); }
  });
  req.end();
}
setTimeout(() => { console.log(JSON.stringify(events)); process.exit(0); }, 10000);
