#!/usr/bin/env node
/**
 * `npm run docs:lifecycle`: writes the drawing and the table of moves into docs/lifecycle.md,
 * from shared/lifecycle.ts's TRANSITIONS (test/unit/lifecycle.test.ts fails when they differ).
 */
import { readFile, writeFile } from "node:fs/promises";
import { mermaid, movesTable } from "../shared/lifecycle.ts";

const path = new URL("../docs/lifecycle.md", import.meta.url);
const doc = await readFile(path, "utf8");
const replace = (text: string, name: string, body: string) => {
  const pattern = new RegExp(`(<!-- ${name}:start -->\\n)[\\s\\S]*?(<!-- ${name}:end -->)`);
  if (!pattern.test(text)) throw new Error(`docs/lifecycle.md has no ${name} markers`);
  return text.replace(pattern, `$1${body}\n$2`);
};
const updated = replace(
  replace(doc, "diagram", `\`\`\`mermaid\n${mermaid()}\n\`\`\``),
  "moves",
  movesTable(),
);
await writeFile(path, updated);
console.log(updated === doc ? "docs/lifecycle.md is up to date" : "docs/lifecycle.md updated");
