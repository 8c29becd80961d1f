#!/usr/bin/env node
/**
 * `npm run openapi`: writes the OpenAPI document (shared/http/openapi.ts, generated from the
 * route table) to docs/openapi.json. test/unit/openapi.test.ts fails while that copy is stale.
 */
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { buildOpenApiDocument } from "../shared/http/openapi.ts";

export const OPENAPI_PATH = resolve(import.meta.dirname, "../docs/openapi.json");

/** The file's exact text: two-space JSON and a final newline. */
export const openApiText = (): string => `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`;

if (import.meta.main) {
  await writeFile(OPENAPI_PATH, openApiText());
  console.log(`wrote ${OPENAPI_PATH}`);
}
