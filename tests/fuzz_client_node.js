// The client fuzz's Node side (tests/test_fuzz_client_node.py): reads {port, cases}
// as JSON on stdin, runs every case at once, each on a keep-alive agent of its own (the
// case's request, then a GET on the same agent once the first is over), and prints one
// JSON line per case: {id, events: [first request's events, second's]}. The second
// request waits second_ms after the first is over: the server has sent its last bytes.
'use strict';
const http = require('http');

const turns = (n, then) => (n ? setImmediate(() => turns(n - 1, then)) : then());

function run(port, c, done) {
  // the case's agent: keep-alive (most), Node's default one-off (no keep-alive), or none
  const agent = c.agent === 'none' ? false : new http.Agent({ keepAlive: c.agent === 'keep' });
  const out = [[], []];
  let finished = false;
  const finish = (extra) => {
    if (finished) return;
    finished = true;
    clearTimeout(guard);
    if (extra) out[1].push(extra);
    if (agent) agent.destroy();
    done({ id: c.id, events: out });
  };
  const guard = setTimeout(() => finish(['hang']), c.guard_ms);
  const one = (n) => {
    const ev = out[n - 1];
    const log = (...e) => ev.push(e);
    const method = n === 1 ? c.method : 'GET';
    const req = http.request({ host: '127.0.0.1', port, method, path: `/c${c.id}/${n}`, agent });
    let reqClosed = false;
    let resClosed = false;
    const settle = () => {
      if (reqClosed && (!req.res || resClosed || reader === 'none')) turns(3, () => (n === 1 ? setTimeout(() => one(2), c.second_ms) : finish()));
    };
    req.on('socket', () => log('socket', req.reusedSocket));
    req.on('continue', () => log('continue'));
    req.on('information', (i) => log('information', i.statusCode, i.statusMessage, i.httpVersion, i.rawHeaders));
    // the first response's reader: a 'data' listener, one added on a later turn, resume()
    // alone, or nobody (dumped)
    const reader = n === 1 ? c.reader : 'data';
    if (reader !== 'none') req.on('response', (res) => {
      log('response', res.statusCode, res.statusMessage, res.httpVersion, res.rawHeaders, res.headers);
      const chunks = [];
      if (reader === 'data') res.on('data', (d) => chunks.push(d));
      else if (reader === 'late') setImmediate(() => res.on('data', (d) => chunks.push(d)));
      else res.resume();
      const body = () => Buffer.concat(chunks).toString('latin1');
      res.on('end', () => log('res.end', body(), res.trailers, res.rawTrailers));
      res.on('aborted', () => log('res.aborted', body()));
      res.on('error', (e) => log('res.error', e.code, e.message));
      res.on('close', () => { log('res.close'); resClosed = true; settle(); });
    });
    req.on('error', (e) => log('error', e.code, e.message));
    // (a response nobody took: whether it was complete, with the close)
    req.on('close', () => { if (reader === 'none') log('close', req.res ? req.res.complete : null); else log('close'); reqClosed = true; settle(); });
    req.end(method === 'POST' ? 'hello' : undefined);
  };
  one(1);
}

let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  const { port, cases } = JSON.parse(input);
  let left = cases.length;
  const lines = [];
  // (the exit waits for the write's callback: a pipe takes 64 KiB at once)
  const exit = () => process.stdout.write(lines.join(''), () => process.exit(0));
  if (!left) exit();
  for (const c of cases) {
    run(port, c, (result) => {
      lines.push(JSON.stringify(result) + '\n');
      if (--left === 0) exit();
    });
  }
});
