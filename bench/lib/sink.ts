/**
 * A receiver for the throughput benchmark, run as its own process (pinned to its own core when
 * `taskset` is there): answers every POST 200 with a short body, as cheaply as node:http can.
 * Prints `{"port":…}` when listening; stops when its stdin closes.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const body = Buffer.from('{"ok":true}');
const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
    res.end(body);
  });
});
server.listen(0, "127.0.0.1", () => {
  console.log(JSON.stringify({ port: (server.address() as AddressInfo).port }));
});
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
