import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

/**
 * The browser the console's tests drive: Debian's `chromium` package, through playwright-core
 * (Playwright's own browser download is not used: `.ci/run` installs the package with apt).
 * `CHROMIUM_PATH` points at another Chromium.
 */
export function chromiumPath(): string {
  const candidates = [
    process.env.CHROMIUM_PATH,
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    whichSync("chromium"),
  ].filter((path): path is string => Boolean(path));
  const found = candidates.find((path) => existsSync(path));
  if (!found) {
    throw new Error(
      "No Chromium found for the browser tests: install Debian's package (`apt-get install -y chromium`, as .ci/run does) or set CHROMIUM_PATH.",
    );
  }
  return found;
}

function whichSync(name: string): string | undefined {
  try {
    return (
      execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}
