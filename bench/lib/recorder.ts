/**
 * A pass-through HTTP proxy that notes every AWS call made through it ("DynamoDB GetItem",
 * "SQS SendMessageBatch", "KMS Decrypt", from the JSON protocols' X-Amz-Target header): how
 * the cold-start benchmark checks that a floor makes the very calls its function makes.
 */
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";

export interface Recorder {
  url: string;
  /** The calls since the last `take()`, in arrival order. */
  take(): string[];
  close(): Promise<void>;
}

const SERVICES: Record<string, string> = {
  DynamoDB_20120810: "DynamoDB",
  AmazonSQS: "SQS",
  TrentService: "KMS",
};

/** "DynamoDB_20120810.GetItem" → "DynamoDB GetItem". */
export function callName(target: string | undefined, method: string, path: string): string {
  if (!target) return `${method} ${path}`;
  const [service = "", operation = ""] = target.split(".");
  return `${SERVICES[service] ?? service} ${operation}`;
}

export async function startRecorder(target: string): Promise<Recorder> {
  const upstream = new URL(target);
  let calls: string[] = [];
  const server = createServer((req, res) => {
    const header = req.headers["x-amz-target"];
    calls.push(
      callName(Array.isArray(header) ? header[0] : header, req.method ?? "", req.url ?? ""),
    );
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        // As sent (the host header too: it is signed).
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    take() {
      const taken = calls;
      calls = [];
      return taken;
    },
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
