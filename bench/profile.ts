#!/usr/bin/env node
/**
 * `npm run bench:profile`: where the deliver path's CPU goes, next to the signed floor's.
 * Both run against the benchmark's receiver (its own process) over HTTPS, or plain HTTP with
 * PROFILE_PROTOCOL=http, each under V8's sampling CPU profiler (what `node --cpu-prof` writes)
 * for PROFILE_SECONDS; the samples' self time is summed by where the code comes from and by
 * function, and divided by the requests made: microseconds per delivery. PROFILE_OUT=<dir>
 * keeps the two .cpuprofile files (open them in Chrome DevTools).
 *
 *   PROFILE_SECONDS=5 PROFILE_PROTOCOL=https npm run bench:profile
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getCACertificates, setDefaultCACertificates } from "node:tls";
import { Agent } from "undici";
import { generateSecret } from "../shared/signing.ts";
import { canPin, pinSelf } from "./lib/cores.ts";
import { deliverPath, selfSignedCertificate, signedFloorPost, startSink } from "./throughput.ts";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface Breakdown {
  requests: number;
  /** CPU µs per request, by origin (undici, TLS, crypto, this project …). */
  byOrigin: Record<string, number>;
  /** The most expensive functions, µs per request. */
  topFunctions: Array<{ name: string; micros: number }>;
  totalMicros: number;
}

/** Where a function comes from, from its script URL. */
export function originOf(frame: CallFrame): string {
  const url = frame.url;
  if (frame.functionName === "(garbage collector)") return "garbage collection";
  if (frame.functionName === "(program)" || frame.functionName === "(idle)")
    return "(idle, program)";
  if (url.includes("/node_modules/undici/")) return "undici (HTTP client)";
  if (url.includes("/node_modules/zod/")) return "zod";
  if (url.includes("/node_modules/")) return `other packages`;
  if (url.includes("/shared/lifecycle")) return "this project: lifecycle";
  if (url.includes("/shared/signing")) return "this project: signing";
  if (url.includes("/shared/use-cases/deliver-batch")) return "this project: deliver batch";
  if (url.includes("/shared/http/sender") || url.includes("/shared/http/ssrf"))
    return "this project: sender";
  if (url.includes("/shared/records") || url.includes("/shared/store/"))
    return "this project: records";
  if (url.includes("/shared/queue/")) return "this project: queue messages";
  if (url.includes("/shared/")) return "this project: other";
  if (url.includes("/bench/")) return "benchmark harness";
  if (url.startsWith("node:internal/tls") || url.includes("_tls_")) return "node: TLS";
  if (url.startsWith("node:internal/crypto") || url === "node:crypto") return "node: crypto";
  if (url.startsWith("node:internal/streams") || url.includes("stream")) return "node: streams";
  if (url.startsWith("node:") || url === "")
    return frame.functionName ? "node: other (incl. native)" : "native";
  return "other";
}

export function breakdown(profile: Profile, requests: number): Breakdown {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const byOrigin: Record<string, number> = {};
  const byFunction = new Map<string, number>();
  let total = 0;
  for (const [id, micros] of self) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    const origin = originOf(frame);
    if (origin === "(idle, program)") continue;
    total += micros;
    byOrigin[origin] = (byOrigin[origin] ?? 0) + micros / requests;
    const file = frame.url.split("/").slice(-2).join("/");
    const name = `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + micros / requests);
  }
  return {
    requests,
    byOrigin,
    topFunctions: [...byFunction]
      .map(([name, micros]) => ({ name, micros }))
      .sort((a, b) => b.micros - a.micros)
      .slice(0, 40),
    totalMicros: total / requests,
  };
}

async function profiled(
  session: Session,
  seconds: number,
  lanes: number,
  work: () => Promise<number>,
) {
  // Warm up first: JIT, connections, TLS sessions, the data key cache.
  const until = (deadline: number) =>
    Promise.all(
      Array.from({ length: lanes }, async () => {
        let done = 0;
        while (performance.now() < deadline) done += await work();
        return done;
      }),
    );
  await until(performance.now() + 2000);
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
  await session.post("Profiler.start");
  const counts = await until(performance.now() + seconds * 1000);
  const { profile } = (await session.post("Profiler.stop")) as unknown as { profile: Profile };
  return { profile, requests: counts.reduce((a, b) => a + b, 0) };
}

if (import.meta.main) {
  if (canPin()) pinSelf(0);
  const seconds = Number(process.env.PROFILE_SECONDS ?? 5);
  const protocol = process.env.PROFILE_PROTOCOL === "http" ? "http" : "https";
  const dir = await mkdtemp(join(tmpdir(), "webhooks-profile-"));
  const tls = protocol === "https" ? await selfSignedCertificate(dir) : undefined;
  if (protocol === "https" && !tls) throw new Error("openssl is needed for the HTTPS receiver");
  if (tls)
    setDefaultCACertificates([...getCACertificates("default"), await readFile(tls.cert, "utf8")]);
  const sink = await startSink(canPin(), tls);
  const session = new Session();
  session.connect();
  try {
    const path = await deliverPath(sink.url, true);
    const deliver = await profiled(session, seconds, 5, () => path.batch(10));
    await path.close();
    const pool = new Agent({ keepAliveTimeout: 30_000 });
    const secret = generateSecret();
    const floor = await profiled(session, seconds, 50, async () => {
      await signedFloorPost(sink.url, pool, secret);
      return 1;
    });
    await pool.close();
    if (process.env.PROFILE_OUT) {
      await writeFile(
        join(process.env.PROFILE_OUT, "deliver.cpuprofile"),
        JSON.stringify(deliver.profile),
      );
      await writeFile(
        join(process.env.PROFILE_OUT, "floor.cpuprofile"),
        JSON.stringify(floor.profile),
      );
    }
    const d = breakdown(deliver.profile, deliver.requests);
    const f = breakdown(floor.profile, floor.requests);
    const origins = [...new Set([...Object.keys(d.byOrigin), ...Object.keys(f.byOrigin)])].sort(
      (a, b) => (d.byOrigin[b] ?? 0) - (d.byOrigin[a] ?? 0),
    );
    console.log(
      `CPU µs per delivery, ${protocol.toUpperCase()}, ${seconds} s profiled each (V8 sampling profiler, 100 µs)`,
    );
    console.log(
      `${"origin".padEnd(34)}${"deliver path".padStart(14)}${"signed floor".padStart(14)}${"difference".padStart(12)}`,
    );
    for (const origin of origins) {
      const a = d.byOrigin[origin] ?? 0;
      const b = f.byOrigin[origin] ?? 0;
      console.log(
        `${origin.padEnd(34)}${a.toFixed(1).padStart(14)}${b.toFixed(1).padStart(14)}${(a - b).toFixed(1).padStart(12)}`,
      );
    }
    console.log(
      `${"total".padEnd(34)}${d.totalMicros.toFixed(1).padStart(14)}${f.totalMicros.toFixed(1).padStart(14)}${(d.totalMicros - f.totalMicros).toFixed(1).padStart(12)}`,
    );
    console.log("\nThe deliver path's most expensive functions (µs per delivery, self time):");
    for (const fn of d.topFunctions) console.log(`${fn.micros.toFixed(2).padStart(8)}  ${fn.name}`);
  } finally {
    session.disconnect();
    sink.child.stdin?.end();
    await rm(dir, { recursive: true, force: true });
  }
}
