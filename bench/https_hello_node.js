// Hello-world Node https server (keep-alive, ALPN http/1.1), the peer of bench/tls_peers.py:
// node bench/https_hello_node.js PORT CERT KEY
'use strict';
const fs = require('fs');
const https = require('https');
const body = Buffer.from('Hello, World!');
const options = { cert: fs.readFileSync(process.argv[3]), key: fs.readFileSync(process.argv[4]),
                  ALPNProtocols: ['http/1.1'] };
const server = https.createServer(options, (req, res) => res.end(body));
server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => console.log(server.address().port));
