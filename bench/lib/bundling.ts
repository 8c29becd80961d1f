/**
 * The Lambda bundles as `cdk deploy` uploads them, and other bundles built exactly the same
 * way: shared by the bundle benchmark (bytes, composition) and the cold-start benchmark (the
 * functions, their floors and variants).
 */
import { execFile } from "node:child_process";
import { readdir, readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { type BuildOptions, build, type Plugin } from "esbuild";
import { bundleSizes } from "../../infra/bundles.ts";
import { BUNDLING } from "../../infra/house-function.ts";

const run = promisify(execFile);
export const ROOT = resolve(import.meta.dirname, "../..");

/** Which handler each synthesized function bundles. */
export const FUNCTION_ENTRIES: Record<string, string> = {
  ApiFunction: "functions/api/handler.ts",
  DeliverFunction: "functions/deliver/handler.ts",
  ResendFunction: "functions/resend/handler.ts",
};

export interface SynthesizedBundle {
  /** The construct id, e.g. DeliverFunction. */
  name: string;
  /** The handler it bundles, relative to the repository. */
  entry: string;
  /** Its index.mjs in the cloud assembly. */
  file: string;
  bytes: number;
  /**
   * The function's environment in the template: strings as deployed, and CloudFormation
   * references (`{ Ref: … }`: the table, the queues, the KMS key) for the caller to fill in.
   */
  environment: Record<string, unknown>;
}

/** `cdk synth` into `outDir`: every function's bundle, the very files `cdk deploy` uploads. */
export async function synthesizeBundles(outDir: string): Promise<SynthesizedBundle[]> {
  await run(
    process.execPath,
    [join(ROOT, "node_modules/aws-cdk/bin/cdk"), "synth", "--quiet", "--output", outDir],
    { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
  );
  const environments = await functionEnvironments(outDir);
  return (await bundleSizes(outDir)).map((bundle) => {
    const entry = FUNCTION_ENTRIES[bundle.name];
    if (!entry) throw new Error(`no entry known for ${bundle.name}: add it to FUNCTION_ENTRIES`);
    return {
      name: bundle.name,
      entry,
      file: join(outDir, bundle.path, "index.mjs"),
      bytes: bundle.bytes,
      environment: environments.get(bundle.name) ?? {},
    };
  });
}

/** Each Lambda function's environment variables in the synthesized templates, by construct id. */
async function functionEnvironments(outDir: string): Promise<Map<string, Record<string, unknown>>> {
  const found = new Map<string, Record<string, unknown>>();
  for (const file of await readdir(outDir)) {
    if (!file.endsWith(".template.json")) continue;
    const template = JSON.parse(await readFile(join(outDir, file), "utf8")) as {
      Resources: Record<
        string,
        {
          Type: string;
          Metadata?: Record<string, string>;
          Properties?: { Environment?: { Variables?: Record<string, unknown> } };
        }
      >;
    };
    for (const resource of Object.values(template.Resources)) {
      if (resource.Type !== "AWS::Lambda::Function") continue;
      const name = (resource.Metadata?.["aws:cdk:path"] ?? "").split("/").at(-2) ?? "function";
      found.set(name, resource.Properties?.Environment?.Variables ?? {});
    }
  }
  return found;
}

/**
 * esbuild's options for `entry` as the CDK's NodejsFunction passes them on its command line
 * (aws-lambda-nodejs bundling: `--bundle`, target, platform, format, minify, source map,
 * externals, banner, main fields, alias), from the same BUNDLING object. `buildLikeCdk` checks
 * itself against the synthesized bundles (same bytes).
 */
export function esbuildOptions(entry: string): BuildOptions {
  const alias = Object.fromEntries(
    Object.entries(BUNDLING.esbuildArgs).map(([flag, target]) => [
      flag.replace(/^--alias:/, ""),
      target,
    ]),
  );
  return {
    entryPoints: [resolve(ROOT, entry)],
    absWorkingDir: ROOT,
    bundle: true,
    platform: "node",
    format: "esm",
    target: BUNDLING.target,
    minify: BUNDLING.minify,
    sourcemap: BUNDLING.sourceMap,
    sourcesContent: BUNDLING.sourcesContent,
    mainFields: BUNDLING.mainFields,
    external: BUNDLING.externalModules,
    banner: { js: BUNDLING.banner },
    alias,
    logLevel: "silent",
  };
}

/**
 * Bundles `entry` into `outDir`/index.mjs (and its source map) as the CDK would; `plugins`
 * substitute modules for a variant. With `splitting`, modules only imported dynamically go to
 * chunks of their own, loaded when first imported (a variant: the CDK's bundling makes one
 * file). Returns the entry file and the bytes a cold start loads: the entry and the chunks it
 * imports statically.
 */
export async function buildLikeCdk(
  entry: string,
  outDir: string,
  plugins: Plugin[] = [],
  { splitting = false } = {},
): Promise<{ file: string; bytes: number }> {
  // esbuild writes relative to its working directory, the repository.
  const file = resolve(ROOT, outDir, "index.mjs");
  if (!splitting) {
    await build({ ...esbuildOptions(entry), outfile: file, plugins });
    return { file, bytes: (await stat(file)).size };
  }
  const { metafile } = await build({
    ...esbuildOptions(entry),
    outdir: resolve(ROOT, outDir),
    splitting: true,
    entryNames: "index",
    chunkNames: "chunk-[hash]",
    outExtension: { ".js": ".mjs" },
    metafile: true,
    plugins,
  });
  const outputs = new Map(Object.entries(metafile.outputs).map(([f, o]) => [resolve(ROOT, f), o]));
  const loaded = new Set<string>();
  const visit = (output: string) => {
    if (loaded.has(output)) return;
    loaded.add(output);
    for (const i of outputs.get(output)?.imports ?? []) {
      if (i.kind === "import-statement" && !i.external) visit(resolve(ROOT, i.path));
    }
  };
  if (!outputs.has(file)) throw new Error(`esbuild wrote no ${file}`);
  visit(file);
  return { file, bytes: [...loaded].reduce((sum, f) => sum + (outputs.get(f)?.bytes ?? 0), 0) };
}

/** Whether two bundles are the same code (their source-map comment aside). */
export async function sameCode(a: string, b: string): Promise<boolean> {
  const code = async (file: string) =>
    (await readFile(file, "utf8")).replace(/\/\/# sourceMappingURL=\S+\s*$/, "");
  return (await code(a)) === (await code(b));
}
