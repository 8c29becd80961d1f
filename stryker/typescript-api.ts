/**
 * Loaded first by stryker/run.ts and (`--import`) into Stryker's type-checker process. The project compiles with
 * TypeScript 7 (the native compiler, `typescript`), which the checker drives through
 * `@typescript/native` ("experimentalNativePreview"). Stryker and the checker also read
 * tsconfig.json with the classic compiler API, which TypeScript 7 no longer ships: for their
 * `typescript` import, this hook hands them TypeScript 5 (`typescript5`). Nothing else is
 * redirected; the project itself is only ever compiled by TypeScript 7.
 */
import { registerHooks } from "node:module";

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (
      specifier === "typescript" &&
      context.parentURL?.includes("/node_modules/@stryker-mutator/")
    ) {
      return nextResolve("typescript5", context);
    }
    return nextResolve(specifier, context);
  },
});
