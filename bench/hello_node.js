// Hello-world Node http server with the same handler: node bench/hello_node.js PORT
'use strict';
const http = require('http');
const body = Buffer.from('Hello, World!');
const server = http.createServer((req, res) => res.end(body));
server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => console.log(server.address().port));
