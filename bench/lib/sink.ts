/**
 * A receiver for the throughput benchmark, run as its own process (pinned to its own core when
 * `taskset` is there): answers every POST 200 with a short body, as cheaply as Node can. HTTPS
 * when SINK_KEY_FILE and SINK_CERT_FILE name a key and certificate. Prints `{"port":…}` when
 * listening; stops when its stdin closes.
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";

const body = Buffer.from('{"ok":true}');
const answer = (req: IncomingMessage, res: ServerResponse) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
    res.end(body);
  });
};
const { SINK_KEY_FILE: keyFile, SINK_CERT_FILE: certFile } = process.env;
const server =
  keyFile && certFile
    ? createTlsServer(
        { key: readFileSync(keyFile), cert: readFileSync(certFile), keepAliveTimeout: 60_000 },
        answer,
      )
    : createServer({ keepAliveTimeout: 60_000 }, answer);
server.listen(0, "127.0.0.1", () => {
  console.log(JSON.stringify({ port: (server.address() as AddressInfo).port }));
});
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
