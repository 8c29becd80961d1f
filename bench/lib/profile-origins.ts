/**
 * Where a cold start's CPU goes, from a V8 CPU profile (`node --cpu-prof`): each sample's
 * self time given to its origin — a package or a file of this project, through the bundle's
 * source map, or a part of Node itself. `COLDSTART_PROFILE=dir npm run bench:coldstart`
 * prints this for each function next to its floor.
 */
import { readFile } from "node:fs/promises";
import { SourceMap, type SourceMapPayload } from "node:module";

interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  }>;
  samples: number[];
  timeDeltas: number[];
}

/** Node's own work, by what it is for. */
const NODE_PARTS: Array<[RegExp, string]> = [
  [/^node:internal\/modules\//, "Node: loading and compiling modules"],
  [/^node:internal\/source_map\//, "Node: source maps (--enable-source-maps)"],
  [/^node:internal\/deps\/undici\//, "Node: built-in fetch (its own undici)"],
  [/^node:internal\/bootstrap\//, "Node: loading built-in modules"],
];

/** The origin of a file the bundle was made from: a package, or this project's file. */
export function originOf(source: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(source)?.[1];
  if (pkg) return /^@(aws-sdk|smithy|aws)\//.test(pkg) ? `AWS SDK (${pkg})` : pkg;
  const project = /((?:shared|functions|bench)\/.*)$/.exec(source)?.[1];
  return project ? `this project: ${project}` : source;
}

/**
 * Milliseconds of self time by origin. `maps`: each file of the bundle by name (`index.mjs`,
 * and the chunks of a split bundle) → its source map.
 */
export async function profileOrigins(
  profileFile: string,
  maps: Record<string, string>,
): Promise<Map<string, number>> {
  const profile = JSON.parse(await readFile(profileFile, "utf8")) as CpuProfile;
  const sourceMaps = new Map<string, SourceMap>();
  for (const [name, file] of Object.entries(maps)) {
    sourceMaps.set(
      name,
      new SourceMap(JSON.parse(await readFile(file, "utf8")) as SourceMapPayload),
    );
  }
  const self = new Map<number, number>();
  profile.timeDeltas.forEach((delta, i) => {
    const id = profile.samples[i] ?? -1;
    self.set(id, (self.get(id) ?? 0) + delta / 1000);
  });
  const origins = new Map<string, number>();
  for (const node of profile.nodes) {
    const ms = self.get(node.id) ?? 0;
    if (ms === 0) continue;
    const { url, functionName, lineNumber, columnNumber } = node.callFrame;
    let origin: string;
    const map = sourceMaps.get(url.slice(url.lastIndexOf("/") + 1));
    if (map) {
      const entry = map.findEntry(lineNumber, columnNumber) as { originalSource?: string };
      origin = entry.originalSource ? originOf(entry.originalSource) : "the bundle (unmapped)";
    } else if (url.startsWith("node:")) {
      origin = NODE_PARTS.find(([pattern]) => pattern.test(url))?.[1] ?? "Node: other built-ins";
    } else if (!url) {
      origin =
        functionName === "(idle)"
          ? "(idle: waiting on I/O)"
          : functionName.startsWith("(")
            ? functionName
            : `native: ${functionName}`;
    } else {
      origin = "the child's own script";
    }
    origins.set(origin, (origins.get(origin) ?? 0) + ms);
  }
  return origins;
}

/** Two profiles side by side, by origin, the largest differences first. */
export function formatOrigins(
  labels: [string, string],
  a: Map<string, number>,
  b: Map<string, number>,
  top = 14,
): string {
  // Idle time is waiting (on the emulators, on the receiver), not CPU: left out of the total.
  const total = (m: Map<string, number>) =>
    [...m].filter(([origin]) => !origin.startsWith("(idle")).reduce((sum, [, ms]) => sum + ms, 0);
  const rows = [...new Set([...a.keys(), ...b.keys()])]
    .map((origin) => ({ origin, a: a.get(origin) ?? 0, b: b.get(origin) ?? 0 }))
    .sort((x, y) => Math.abs(y.a - y.b) - Math.abs(x.a - x.b))
    .slice(0, top);
  const ms = (v: number) => v.toFixed(1).padStart(8);
  return [
    `    ${"self time by origin (ms)".padEnd(52)}${labels[0].padStart(8)}${labels[1].padStart(8)}    diff`,
    ...rows.map(
      (r) => `    ${r.origin.slice(0, 52).padEnd(52)}${ms(r.a)}${ms(r.b)}${ms(r.a - r.b)}`,
    ),
    `    ${"all but idle".padEnd(52)}${ms(total(a))}${ms(total(b))}${ms(total(a) - total(b))}`,
  ].join("\n");
}
