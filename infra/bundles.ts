import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";

export interface BundleSize {
  /** The construct id, e.g. DeliverFunction. */
  name: string;
  /** The bundle's directory in the cloud assembly. */
  path: string;
  bytes: number;
}

/**
 * The minified bundle of every Lambda function in a synthesized stack, read from the cloud
 * assembly (`cdk.out`): the very files `cdk deploy` would upload. Bytes are a reported figure;
 * the budget they used to stand for is cold start (`npm run bench:coldstart`).
 */
export async function bundleSizes(assemblyDir: string): Promise<BundleSize[]> {
  const templates = (await readdir(assemblyDir)).filter((file) => file.endsWith(".template.json"));
  const sizes: BundleSize[] = [];
  for (const file of templates) {
    const template = JSON.parse(await readFile(join(assemblyDir, file), "utf8")) as {
      Resources: Record<string, { Type: string; Metadata?: Record<string, string> }>;
    };
    for (const resource of Object.values(template.Resources)) {
      const assetPath = resource.Metadata?.["aws:asset:path"];
      if (resource.Type !== "AWS::Lambda::Function" || !assetPath) continue;
      const name = (resource.Metadata?.["aws:cdk:path"] ?? "").split("/").at(-2) ?? "function";
      // Only the functions this app bundles (esbuild's index.mjs); CDK's own handler that
      // copies the web console into its bucket is not one of them.
      const found = await stat(join(assemblyDir, assetPath, "index.mjs")).catch(() => undefined);
      if (!found) continue;
      const { size } = found;
      sizes.push({ name, path: assetPath, bytes: size });
    }
  }
  return sizes.sort((a, b) => a.name.localeCompare(b.name));
}
