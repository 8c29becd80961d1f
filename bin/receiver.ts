#!/usr/bin/env node
/**
 * `npm run receiver`: a webhook endpoint for trying the service out. It verifies both
 * signatures exactly as a receiver in production would (the Standard Webhooks one with the
 * official `standardwebhooks` package), answers 401 to anything that does not verify, and
 * prints each delivery. `--status 500` makes it fail on purpose, to watch retries, and
 * `PUT /_receiver/status` with a status code in the body changes its answer while it runs.
 */
import { timingSafeEqual } from "node:crypto";
import { createServer, type ServerResponse } from "node:http";
import { parseArgs } from "node:util";
import { Webhook } from "standardwebhooks";
import { SAMPLE_RECEIVER_HEADER } from "../shared/sample-receiver.ts";
import { hexSignature } from "../shared/signing.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", short: "p", default: process.env.RECEIVER_PORT ?? "4000" },
    secret: { type: "string", short: "s", default: process.env.WEBHOOK_SECRET },
    status: { type: "string", default: process.env.RECEIVER_STATUS ?? "200" },
    quiet: { type: "boolean", short: "q", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  console.log(`Usage: npm run receiver -- [--port 4000] [--secret <secret>] [--status 200] [--quiet]

  --port    port to listen on (RECEIVER_PORT, default 4000)
  --secret  the subscription's signing secret (WEBHOOK_SECRET); without it, signatures are not checked
  --status  HTTP status to answer verified deliveries with (RECEIVER_STATUS, default 200)
  --quiet   print one line per delivery instead of the whole body

While it runs, change its answer: curl -X PUT http://127.0.0.1:<port>/_receiver/status -d 500`);
  process.exit(0);
}

const port = Number(values.port);
let status = Number(values.status);
if (!Number.isInteger(port) || port < 0 || port > 65_535)
  fail(`--port: '${values.port}' is not a port`);
if (!Number.isInteger(status) || status < 200 || status > 599)
  fail(`--status: '${values.status}' is not an HTTP status`);
const secret = values.secret;
const standard = secret
  ? new Webhook(secret, secret.startsWith("whsec_") ? undefined : { format: "raw" })
  : undefined;

export type Verdict = { ok: true; checks: string[] } | { ok: false; reason: string };

/** Both checks a receiver should make; either failing means the request is not from us. */
function verify(body: Buffer, headers: Record<string, string>): Verdict {
  if (!secret || !standard) return { ok: true, checks: ["unsigned (no --secret given)"] };
  const hex = headers["x-webhook-signature"];
  if (!hex) return { ok: false, reason: "missing X-Webhook-Signature" };
  const expected = Buffer.from(hexSignature(secret, body.toString("utf8")), "hex");
  const given = Buffer.from(hex, "hex");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: "X-Webhook-Signature does not match the body" };
  }
  try {
    standard.verify(body, headers);
  } catch (error) {
    return { ok: false, reason: `webhook-signature: ${(error as Error).message}` };
  }
  return { ok: true, checks: ["X-Webhook-Signature ✓", "webhook-signature (Standard Webhooks) ✓"] };
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    if (req.url === "/_receiver/status")
      return control(req.method, body.toString("utf8").trim(), res);
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([name, value]) => [name, String(value)]),
    );
    const verdict = verify(body, headers);
    const stamp = new Date().toISOString();
    const label = `${headers["x-webhook-event"] ?? "?"} ${headers["webhook-id"] ?? "?"}`;
    if (!verdict.ok) {
      console.log(`${stamp}  401  ${label}  REJECTED: ${verdict.reason}`);
      res.writeHead(401, {
        "content-type": "application/json",
        [SAMPLE_RECEIVER_HEADER]: "rejected",
      });
      res.end(JSON.stringify({ error: verdict.reason }));
      return;
    }
    console.log(`${stamp}  ${status}  ${label}  ${verdict.checks.join(", ")}`);
    if (!values.quiet) {
      try {
        console.log(JSON.stringify(JSON.parse(body.toString("utf8")), null, 2));
      } catch {
        console.log(body.toString("utf8"));
      }
    }
    // Says what it checked, so that the delivery's record shows it (`npm run smoke` reads it).
    res.writeHead(status, {
      "content-type": "application/json",
      [SAMPLE_RECEIVER_HEADER]: secret ? "verified" : "unsigned",
    });
    res.end(JSON.stringify({ received: status < 300 }));
  });
});

/** `PUT /_receiver/status` with `500` (say) in the body: the answer to every later delivery. */
function control(method: string | undefined, text: string, res: ServerResponse) {
  const wanted = Number(text);
  if (method !== "PUT" || !Number.isInteger(wanted) || wanted < 200 || wanted > 599) {
    res.writeHead(400, { "content-type": "text/plain" });
    res.end("PUT a status code from 200 to 599\n");
    return;
  }
  status = wanted;
  console.log(`${new Date().toISOString()}  receiver now answers ${status}`);
  res.writeHead(204);
  res.end();
}

server.listen(port, "127.0.0.1", () => {
  const address = server.address();
  const actual = typeof address === "object" && address ? address.port : port;
  console.log(
    `Receiver listening on http://127.0.0.1:${actual}/  (answers ${status}; ${secret ? "verifying signatures" : "no secret: signatures not checked"})`,
  );
});

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}
