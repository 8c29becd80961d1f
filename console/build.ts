import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";

/**
 * Building the web console (Preact, bundled by Vite) and knowing when it must be built again.
 * `npm start` and the browser tests call `ensureConsoleBuilt()`: it builds into
 * `console/dist` (git-ignored) when there is no build or the build was made from other sources,
 * one process at a time (a lock file), and swaps the new build in whole. The CDK app and
 * `npm run bench` build into a directory of their own with `buildConsole()`.
 */
export const ROOT = resolve(import.meta.dirname, "..");
export const CONSOLE_ROOT = join(ROOT, "console");
export const CONSOLE_DIST = join(CONSOLE_ROOT, "dist");
/** Written into a build: the hash of the sources it was made from. */
const STAMP = ".source-hash";
const LOCK = join(CONSOLE_ROOT, ".build.lock");
/** A lock older than this belonged to a process that died while building. */
const STALE_LOCK_MS = 120_000;

/** Builds the console into `outDir` (emptied first). */
export async function buildConsole(outDir: string): Promise<void> {
  const { build } = await import("vite");
  await build({
    root: CONSOLE_ROOT,
    base: "/console/",
    configFile: false,
    envDir: false,
    logLevel: "warn",
    clearScreen: false,
    oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
    build: {
      outDir,
      emptyOutDir: true,
      target: "es2022",
      // No inline script anywhere: the Content-Security-Policy allows none.
      modulePreload: { polyfill: false },
      assetsInlineLimit: 0,
      reportCompressedSize: false,
    },
  });
}

async function filesUnder(dir: string, skip: (path: string) => boolean): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (skip(path)) continue;
    if (entry.isDirectory()) found.push(...(await filesUnder(path, skip)));
    else if (entry.isFile()) found.push(path);
  }
  return found;
}

async function hashFiles(files: string[]): Promise<string> {
  const hash = createHash("sha256");
  for (const file of files.map((f) => relative(ROOT, f)).sort()) {
    hash.update(`${file}\0`);
    hash.update(await readFile(join(ROOT, file)));
    hash.update("\0");
  }
  return hash.digest("hex");
}

const notSource = (path: string) => {
  const name = relative(CONSOLE_ROOT, path);
  return name === "dist" || name.startsWith(".build") || name === "node_modules";
};

/**
 * What the console looks like is made of: its own sources (components, styles, page). The
 * screenshots in docs/console are current while this hash is the one they were taken at.
 */
export async function consoleUiHash(): Promise<string> {
  const files = await filesUnder(join(CONSOLE_ROOT, "src"), () => false);
  return hashFiles([...files, join(CONSOLE_ROOT, "index.html")]);
}

/**
 * What a build is made of: the console's sources, the shared code it imports (the typed API
 * client and the contract's types), this file, and the locked dependency versions.
 */
export async function consoleSourceHash(): Promise<string> {
  const files = [
    ...(await filesUnder(CONSOLE_ROOT, notSource)),
    ...(await filesUnder(join(ROOT, "shared"), () => false)),
    join(ROOT, "package-lock.json"),
  ];
  return hashFiles(files);
}

/** Whether `console/dist` holds a build of the current sources. */
export async function consoleIsCurrent(hash?: string): Promise<boolean> {
  const current = hash ?? (await consoleSourceHash());
  const stamp = await readFile(join(CONSOLE_DIST, STAMP), "utf8").catch(() => "");
  const index = await stat(join(CONSOLE_DIST, "index.html")).catch(() => undefined);
  return index !== undefined && stamp.trim() === current;
}

/**
 * Builds `console/dist` unless it is current. Returns whether it built. Safe to call from
 * several processes at once: one builds, the others wait for it and find the build current.
 */
export async function ensureConsoleBuilt(
  log: (message: string) => void = () => {},
): Promise<boolean> {
  const hash = await consoleSourceHash();
  if (await consoleIsCurrent(hash)) return false;
  const release = await lock();
  try {
    if (await consoleIsCurrent(hash)) return false;
    log("Building the web console (console/dist)…");
    const fresh = join(CONSOLE_ROOT, `.build-${process.pid}-${randomBytes(4).toString("hex")}`);
    await buildConsole(fresh);
    await writeFile(join(fresh, STAMP), `${hash}\n`);
    // Swap whole directories: a server never reads half of one build and half of another.
    const old = `${fresh}-old`;
    await rename(CONSOLE_DIST, old).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw error;
    });
    await rename(fresh, CONSOLE_DIST);
    await rm(old, { recursive: true, force: true });
    return true;
  } finally {
    await release();
  }
}

async function lock(): Promise<() => Promise<void>> {
  await mkdir(CONSOLE_ROOT, { recursive: true });
  for (;;) {
    try {
      const handle = await open(LOCK, "wx");
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(LOCK, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const held = await stat(LOCK).catch(() => undefined);
      if (held && Date.now() - held.mtimeMs > STALE_LOCK_MS) {
        await rm(LOCK, { force: true });
        continue;
      }
      // Another process is building: wait for it to finish (the lock goes away).
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

if (import.meta.main) {
  // `node console/build.ts`: console/dist, when stale. `--out <dir>`: a fresh build there (the
  // CDK app's asset bundling, `npm run bench`).
  const out = process.argv.indexOf("--out");
  if (out > 0 && process.argv[out + 1]) {
    await buildConsole(resolve(process.argv[out + 1] as string));
  } else {
    const built = await ensureConsoleBuilt(console.log);
    console.log(built ? `Built ${relative(ROOT, CONSOLE_DIST)}.` : "The console build is current.");
  }
}
