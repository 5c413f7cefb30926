// Node's own request parser (llhttp through the http module's binding), driven as Node's
// http.Server drives it: one execute() per read, 16 KiB max header size, strict mode.
// stdin: one JSON array of base64 reads per line; stdout: one JSON result per line:
// {events: [...], error: [code, absoluteOffset] | null, upgrade: offset | null}.
'use strict';
const { HTTPParser } = require('_http_common');
// the method number is llhttp's; Node names it from the binding's full list
process.noDeprecation = true;
const { allMethods } = process.binding('http_parser');
const readline = require('readline');

const kOnHeaders = HTTPParser.kOnHeaders | 0;
const kOnHeadersComplete = HTTPParser.kOnHeadersComplete | 0;
const kOnBody = HTTPParser.kOnBody | 0;
const kOnMessageComplete = HTTPParser.kOnMessageComplete | 0;
const kOnExecute = HTTPParser.kOnExecute | 0;

function run(reads) {
  const events = [];
  const parser = new HTTPParser();
  let pendingHeaders = [];
  let pendingUrl = '';
  parser.initialize(HTTPParser.REQUEST, {}, 16384, 0);
  parser[kOnHeaders] = (headers, url) => {
    pendingHeaders = pendingHeaders.concat(headers);
    pendingUrl += url;
  };
  parser[kOnHeadersComplete] = (major, minor, headers, method, url, statusCode, statusMessage,
    upgrade, keepAlive) => {
    // a head that spanned reads was flushed in parts (kOnHeaders), as Node's server sees it
    if (headers === undefined) headers = pendingHeaders;
    if (url === undefined) url = pendingUrl;
    pendingHeaders = [];
    pendingUrl = '';
    events.push(['head', allMethods[method], url, `${major}.${minor}`, headers, !!keepAlive, !!upgrade]);
    return upgrade ? 2 : 0; // as Node's server with an 'upgrade' listener: stop at the head
  };
  parser[kOnBody] = (buf, start, len) => {
    const body = start === undefined ? buf : buf.slice(start, start + len);
    const last = events[events.length - 1];
    if (last && last[0] === 'body') last[1] += body.toString('latin1');
    else events.push(['body', body.toString('latin1')]);
  };
  parser[kOnMessageComplete] = () => {
    pendingHeaders = []; // trailers
    pendingUrl = '';
    events.push(['done']);
  };
  parser[kOnExecute] = () => {};
  let fed = 0;
  for (const read of reads) {
    const buf = Buffer.from(read, 'base64');
    const ret = parser.execute(buf);
    if (ret instanceof Error) {
      return { events, error: [ret.code, fed + ret.bytesParsed], upgrade: null };
    }
    const head = events.filter((e) => e[0] === 'head').pop();
    if (head && head[6]) {
      // llhttp paused after an upgrade or CONNECT head: Node's server leaves HTTP here
      return { events, error: null, upgrade: fed + ret };
    }
    fed += buf.length;
  }
  parser.finish();
  return { events, error: null, upgrade: null };
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  process.stdout.write(JSON.stringify(run(JSON.parse(line))) + '\n');
});
