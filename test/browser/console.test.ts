import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consoleUiHash, ensureConsoleBuilt } from "../../console/build.ts";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import { createDocumentClient } from "../../shared/aws.ts";
import { newPortalSessionId } from "../../shared/ids.ts";
import { silentLogger } from "../../shared/log.ts";
import { generatePortalToken, hashPortalToken } from "../../shared/portal-tokens.ts";
import { DynamoPortalSessionStore } from "../../shared/store/portal-session-store.ts";
import { api, eventually } from "../helpers/api-client.ts";
import { chromiumPath } from "../helpers/browser.ts";
import { startServer, type TestServer } from "../helpers/http-server.ts";

/**
 * The web console in a real Chromium (Debian's package, driven by playwright-core) against the
 * local stack and a receiver: signing in, the subscription modal, test sends, the failure path
 * with Resend and Redrive all, what a portal session may and may not do, an expired session,
 * an accessibility scan (axe) of every screen, and a phone-sized screen. It also takes the
 * screenshots in docs/console: into a scratch directory on every run, into docs/console when
 * UPDATE_CONSOLE_SCREENSHOTS=1 (`npm run console:screenshots`), with the manifest that
 * test/unit/console-screenshots.test.ts holds them to.
 */
const ROOT = resolve(import.meta.dirname, "../..");
const SCREENSHOTS = join(ROOT, "docs/console");
const UPDATE = process.env.UPDATE_CONSOLE_SCREENSHOTS === "1";
const DESKTOP = { width: 1200, height: 760 };
const PHONE = { width: 375, height: 740 };

let stack: LocalStack;
let dataDir: string;
let shotsDir: string;
let receiver: TestServer;
/** The CRM's settings page, which embeds the console (an allowed frame ancestor), and a stranger. */
let crm: TestServer;
let stranger: TestServer;
let answer = 200;
let browser: Browser;
let admin: BrowserContext;
let page: Page;
const problems: string[] = [];
const shots: string[] = [];
let subscriptionId = "";

/** Fails the test on any script error or Content-Security-Policy violation in the page. */
function watch(target: Page) {
  target.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  target.on("console", (message) => {
    if (
      message.type() === "error" &&
      !/the server responded with a status of 4\d\d/.test(message.text())
    ) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  return target;
}

async function shot(target: Page, name: string) {
  const file = `${name}.png`;
  await target.screenshot({ path: join(shotsDir, file) });
  shots.push(file);
}

const consoleUrl = () => `${stack.url}/console`;
const row = (target: Page, text: string | RegExp) =>
  target.getByRole("row").filter({ hasText: text });

beforeAll(async () => {
  await ensureConsoleBuilt();
  dataDir = await mkdtemp(join(tmpdir(), "webhooks-console-"));
  shotsDir = UPDATE ? SCREENSHOTS : await mkdtemp(join(tmpdir(), "webhooks-shots-"));
  await mkdir(shotsDir, { recursive: true });
  // A page that frames the URL it is given, as the CRM's settings page would.
  const embedder = (request: { url: string }, res: import("node:http").ServerResponse) => {
    const src = new URL(request.url, "http://crm.invalid").searchParams.get("src") ?? "";
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(
      `<!doctype html><title>CRM settings</title><h1>Webhooks</h1><iframe title="Webhooks" allow="clipboard-write" width="1000" height="600" src="${src.replace(/"/g, "&quot;")}"></iframe>`,
    );
  };
  crm = await startServer(embedder);
  stranger = await startServer(embedder);
  stack = await startLocalStack(
    {
      PORT: "0",
      WEBHOOKS_LOCAL_DATA_DIR: dataDir,
      WEBHOOKS_RETRY_SCHEDULE: "0,1",
      WEBHOOKS_LOCAL_CONSOLE_FRAME_ANCESTORS: crm.url,
    },
    { log: silentLogger },
  );
  receiver = await startServer((_request, res) => {
    res.writeHead(answer, { "content-type": "text/plain" });
    res.end(answer === 200 ? "thanks" : "database is down");
  });
  browser = await chromium.launch({ executablePath: chromiumPath() });
  admin = await browser.newContext({ viewport: DESKTOP });
  page = watch(await admin.newPage());
  page.setDefaultTimeout(20_000);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await receiver?.close();
  await crm?.close();
  await stranger?.close();
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
  if (!UPDATE && shotsDir) await rm(shotsDir, { recursive: true, force: true });
});

describe("the web console", { timeout: 90_000 }, () => {
  it("is served at /console with its security headers, and signs in with the admin key", async () => {
    const response = await fetch(consoleUrl());
    expect(response.status).toBe(200);
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    // Only the CRM may frame it (WEBHOOKS_LOCAL_CONSOLE_FRAME_ANCESTORS), so no X-Frame-Options.
    expect(csp).toContain(`frame-ancestors ${crm.url}`);
    expect(response.headers.get("x-frame-options")).toBeNull();
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("strict-transport-security")).toMatch(/max-age=\d+/);

    await page.goto(consoleUrl());
    await page.getByLabel("Admin key").fill("whk_demo_0000000000000000000000000000000000000000");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "not valid" }).waitFor();

    await page.getByLabel("Admin key").fill(stack.adminKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Subscriptions", level: 1 }).waitFor();
    // Kept for the tab only: sessionStorage, never localStorage.
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    expect(await page.evaluate(() => Object.values(sessionStorage))).toEqual([stack.adminKey]);
  });

  it("creates a subscription in the modal; field errors show next to their fields; the generated secret is shown once", async () => {
    await page.getByRole("button", { name: "New subscription" }).click();
    const modal = page.getByRole("dialog", { name: "New subscription" });
    await modal.getByLabel("URL").fill("ftp://nowhere.example/hooks");
    await modal.getByRole("checkbox", { name: "contact.created" }).check();
    await modal.getByRole("checkbox", { name: "All deal events" }).check();
    expect(await modal.getByRole("checkbox", { name: "deal.deleted" }).isChecked()).toBe(true);
    expect(await modal.getByRole("checkbox", { name: "Generate a secret" }).isChecked()).toBe(true);
    expect(await modal.getByRole("switch", { name: "Enabled" }).isChecked()).toBe(true);
    await modal.getByRole("button", { name: "Create" }).click();
    // The API's 422 names the field; the console puts it next to it, and keeps what was typed.
    await modal.locator(".field-error").first().waitFor();
    expect(await modal.getByLabel("URL").getAttribute("aria-invalid")).toBe("true");
    expect(await modal.getByLabel("URL").inputValue()).toBe("ftp://nowhere.example/hooks");
    expect(await modal.getByRole("checkbox", { name: "contact.created" }).isChecked()).toBe(true);

    await modal.getByLabel("URL").fill(`${receiver.url}/crm`);
    await modal.getByLabel("Description").fill("CRM sync");
    await shot(page, "subscription-modal");
    await modal.getByRole("button", { name: "Create" }).click();

    const secretDialog = page.getByRole("dialog", { name: "Signing secret" });
    const secret = await secretDialog.getByLabel("Secret", { exact: true }).inputValue();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]{20,}$/);
    await secretDialog.getByRole("button", { name: "Copy secret" }).waitFor();
    await secretDialog.getByRole("button", { name: "Done" }).click();
    await secretDialog.waitFor({ state: "detached" });

    // Shown once: the list and the edit form never show it again.
    const listed = await api(stack.url, "GET", "/v1/subscriptions", { key: stack.adminKey });
    const created = listed.body.data.find((s: { url: string }) => s.url === `${receiver.url}/crm`);
    subscriptionId = created.id;
    expect(created).toMatchObject({ secret: "whsec_********", description: "CRM sync" });
    expect(await page.content()).not.toContain(secret);
    await row(page, "CRM sync").getByRole("button", { name: "Edit" }).click();
    const edit = page.getByRole("dialog", { name: "Edit subscription" });
    expect(await edit.getByLabel("Secret", { exact: true }).inputValue()).toBe("");
    await edit.getByRole("button", { name: "Save" }).waitFor();
    await edit.getByRole("button", { name: "Cancel" }).click();
    await edit.waitFor({ state: "detached" });
  });

  it("keyboard: the modal opens from the keyboard, Escape closes it and focus returns", async () => {
    const button = page.getByRole("button", { name: "New subscription" });
    await button.focus();
    await page.keyboard.press("Enter");
    const modal = page.getByRole("dialog", { name: "New subscription" });
    await modal.waitFor();
    expect(await page.evaluate("document.activeElement?.closest('dialog') !== null")).toBe(true);
    await page.keyboard.press("Escape");
    await modal.waitFor({ state: "detached" });
    expect(await button.evaluate((el) => el === el.ownerDocument.activeElement)).toBe(true);
  });

  it("Send test event: the answer, then the delivery with its attempt", async () => {
    await row(page, "CRM sync").getByRole("button", { name: "Send test event" }).click();
    const result = page.getByRole("dialog", { name: "Test event" });
    await result.getByText("HTTP 200").waitFor();
    await result.getByRole("link", { name: "Open the delivery" }).click();
    await page.getByRole("heading", { name: "Delivery", level: 1 }).waitFor();
    await page.getByRole("heading", { name: "Attempt 1" }).waitFor();
    await page.getByText("(test send)").waitFor();
    await page.getByText('"event": "contact.created"').waitFor();
    await page.getByRole("button", { name: "Copy payload" }).waitFor();
    // A test send is never resent: no Resend.
    expect(await page.getByRole("button", { name: "Resend" }).count()).toBe(0);
    await page.getByText("Request headers").click();
    await page.getByRole("rowheader", { name: "webhook-signature", exact: true }).waitFor();
    await shot(page, "delivery");
  });

  it("a failing receiver: the delivery shows under Failed; fixed, Resend delivers it", async () => {
    answer = 500;
    const posted = await api(stack.url, "POST", "/v1/events", {
      key: stack.ingestKey,
      body: { id: "crm-evt-fail-1", event: "contact.created", data: { id: "c_7", name: "Grace" } },
    });
    expect(posted.status).toBe(202);
    const failed = await eventually(async () => {
      const list = await api(stack.url, "GET", "/v1/deliveries?status=failed", {
        key: stack.adminKey,
      });
      return list.body.data[0] as { id: string } | undefined;
    }, 20_000);

    await page.getByRole("link", { name: "Failed" }).click();
    await page.getByRole("heading", { name: "Failed", level: 1 }).waitFor();
    const failedRow = row(page, "Retries exhausted");
    await failedRow.waitFor();
    await failedRow.getByText("HTTP 500").waitFor();
    await shot(page, "failed");

    answer = 200;
    await failedRow.getByRole("button", { name: "Resend" }).click();
    await failedRow.getByText("Resent").waitFor();
    await failedRow.getByRole("link").first().click();
    await page.getByRole("heading", { name: "Delivery", level: 1 }).waitFor();
    expect(page.url()).toContain(failed.id);
    // The page follows a delivery under way until it settles.
    await page.locator(".facts .badge.succeeded").first().waitFor();
    await page.getByRole("heading", { name: "Attempt 3 (resend 1)" }).waitFor();
  });

  it("Redrive all: a progress indicator and the result of each dead letter", async () => {
    answer = 500;
    for (const n of [1, 2, 3]) {
      await api(stack.url, "POST", "/v1/events", {
        key: stack.ingestKey,
        body: { id: `crm-evt-redrive-${n}`, event: "deal.updated", data: { id: `d_${n}` } },
      });
    }
    await eventually(async () => {
      const dlq = await api(stack.url, "GET", "/v1/dlq", { key: stack.adminKey });
      return dlq.body.depth === 3 ? true : undefined;
    }, 20_000);
    answer = 200;
    await page.goto(`${consoleUrl()}#/failed`);
    await page.getByText("3 dead letters").waitFor();
    expect(await row(page, "deal.updated").count()).toBe(3);
    await page.getByRole("button", { name: "Redrive all" }).click();
    await page.getByRole("progressbar", { name: "Redrive progress" }).waitFor();
    await page.getByText("Finished: 3 of 3: 3 resent").waitFor();
    for (const r of await row(page, "deal.updated").all()) await r.getByText("Resent").waitFor();
    await eventually(async () => {
      const list = await api(
        stack.url,
        "GET",
        "/v1/deliveries?event=deal.updated&status=succeeded",
        {
          key: stack.adminKey,
        },
      );
      return list.body.data.length === 3 ? true : undefined;
    }, 20_000);
    await page.getByRole("button", { name: "Refresh" }).click();
    await page.getByText("No dead letters").waitFor();
  });

  it("lists deliveries with filters and paging; the chart counts the last 24 hours", async () => {
    await page.getByRole("link", { name: "Deliveries" }).click();
    await page.getByRole("heading", { name: "Deliveries", level: 1 }).waitFor();
    await page.getByLabel("Event").selectOption("deal.updated");
    await eventually(async () =>
      (await row(page, "deal.updated").count()) === 3 ? true : undefined,
    );
    expect(await row(page, "contact.created").count()).toBe(0);
    await page.getByLabel("Status").selectOption("failed");
    await page.getByText("No deliveries match.").waitFor();

    await page.getByRole("link", { name: "Subscriptions" }).click();
    const chart = page.getByRole("img", { name: /Deliveries per hour by outcome/ });
    await chart.waitFor();
    // 1 delivery resent to success + 3 redriven: 4 succeeded, none failed now.
    expect(await chart.getAttribute("aria-label")).toContain("4 succeeded");
    await page.getByText("All 4 deliveries of the last 24 hours").waitFor();
    await shot(page, "subscriptions");
  });

  it("Keys (admin keys only): create, shown once; revoke", async () => {
    await page.getByRole("link", { name: "Keys" }).click();
    await page.getByRole("heading", { name: "Keys", level: 1 }).waitFor();
    await page.getByLabel("Name").fill("crm-browser-test");
    await page.getByRole("button", { name: "Create key" }).click();
    const shown = page.getByRole("dialog", { name: "New API key" });
    expect(await shown.getByLabel("Key").inputValue()).toMatch(/^whk_demo_[0-9a-f]{64}$/);
    await shown.getByRole("button", { name: "Done" }).click();
    await row(page, "crm-browser-test").getByRole("button", { name: "Revoke" }).click();
    await page
      .getByRole("dialog", { name: "Revoke key" })
      .getByRole("button", { name: "Revoke" })
      .click();
    await row(page, "crm-browser-test").getByText("Revoked").waitFor();
  });

  it("works at 375 px: nothing wider than the screen", async () => {
    // The same tab (the key is kept per tab), narrowed to a phone's width.
    const phone = page;
    await phone.setViewportSize(PHONE);
    try {
      for (const hash of ["#/subscriptions", "#/deliveries", "#/failed", "#/keys"]) {
        await phone.goto(`${consoleUrl()}${hash}`);
        await phone.getByRole("heading", { level: 1 }).waitFor();
        await phone.locator("main table, main .empty").first().waitFor();
        const width = await phone.evaluate<number>("document.documentElement.scrollWidth");
        expect(width, hash).toBeLessThanOrEqual(PHONE.width);
      }
      await phone.goto(`${consoleUrl()}#/subscriptions`);
      await row(phone, "CRM sync").waitFor();
      await shot(phone, "phone");
    } finally {
      await phone.setViewportSize(DESKTOP);
    }
  });
});

describe("portal sessions in the console", { timeout: 90_000 }, () => {
  it("a read + resend session: no controls to create, edit or delete, and the API refuses them (403)", async () => {
    const created = await api(stack.url, "POST", "/v1/portal-sessions", {
      key: stack.adminKey,
      body: { capabilities: ["read", "resend"], subscriptionIds: [subscriptionId] },
    });
    const token = created.body.token as string;
    const context = await browser.newContext({ viewport: DESKTOP });
    const portal = watch(await context.newPage());
    portal.setDefaultTimeout(20_000);
    await portal.goto(`${stack.url}${created.body.consolePath}`);
    await portal.getByRole("heading", { name: "Subscriptions", level: 1 }).waitFor();
    // The token left the address bar and the history at once.
    expect(portal.url()).not.toContain(token);
    expect(portal.url()).toMatch(/#\/subscriptions$/);
    expect(await portal.evaluate(() => localStorage.length)).toBe(0);
    await portal.getByText("portal session (read, resend)").waitFor();
    await row(portal, "CRM sync").waitFor();
    for (const name of [
      "New subscription",
      "Edit",
      "Delete",
      "Rotate secret",
      "Send test event",
      "Disable",
    ]) {
      expect(await portal.getByRole("button", { name }).count(), name).toBe(0);
    }
    expect(await portal.getByRole("link", { name: "Keys" }).count()).toBe(0);
    await shot(portal, "portal-session");
    await portal.getByRole("link", { name: "Failed" }).click();
    await portal.getByRole("button", { name: "Redrive all" }).waitFor();
    await portal.getByRole("link", { name: "Deliveries" }).click();
    await row(portal, "contact.created").first().getByRole("link").click();
    await portal.getByRole("heading", { name: "Delivery", level: 1 }).waitFor();
    await portal.getByRole("button", { name: "Resend" }).waitFor();

    // Whatever the page shows, the API decides.
    const as = { key: token };
    const tries = [
      await api(stack.url, "POST", "/v1/subscriptions", {
        ...as,
        body: { url: `${receiver.url}/x`, events: ["task.created"] },
      }),
      await api(stack.url, "PATCH", `/v1/subscriptions/${subscriptionId}`, {
        ...as,
        body: { description: "changed by a session" },
      }),
      await api(stack.url, "DELETE", `/v1/subscriptions/${subscriptionId}`, as),
      await api(stack.url, "GET", "/v1/keys", as),
    ];
    expect(tries.map((t) => t.status)).toEqual([403, 403, 403, 403]);
    await context.close();
  });

  it("the CRM embeds it in its page with a portal session; a site that is not a frame ancestor cannot", async () => {
    const created = await api(stack.url, "POST", "/v1/portal-sessions", {
      key: stack.adminKey,
      body: { capabilities: ["read"] },
    });
    const src = encodeURIComponent(`${stack.url}${created.body.consolePath}`);
    const context = await browser.newContext({ viewport: DESKTOP });
    const settings = watch(await context.newPage());
    await settings.goto(`${crm.url}/embed?src=${src}`);
    const embedded = settings.frameLocator('iframe[title="Webhooks"]');
    await embedded.getByRole("heading", { name: "Subscriptions", level: 1 }).waitFor();
    await embedded.getByText("portal session (read)").waitFor();
    expect(await embedded.getByRole("button", { name: "New subscription" }).count()).toBe(0);

    // Not an allowed ancestor: the browser refuses to render the console in its frame.
    const elsewhere = await context.newPage();
    await elsewhere.goto(`${stranger.url}/embed?src=${encodeURIComponent(consoleUrl())}`);
    await eventually(async () =>
      elsewhere.frames().some((frame) => frame.url().startsWith("chrome-error://"))
        ? true
        : undefined,
    );
    expect(
      await elsewhere.frameLocator('iframe[title="Webhooks"]').getByLabel("Admin key").count(),
    ).toBe(0);
    await context.close();
  });

  it("an expired session is refused: the console says so", async () => {
    const token = generatePortalToken("demo");
    await new DynamoPortalSessionStore({ client: createDocumentClient(), name: "webhooks" }).put({
      id: newPortalSessionId(),
      workspaceId: "demo",
      hash: hashPortalToken(token),
      capabilities: ["read"],
      subscriptionIds: null,
      createdAt: "2026-01-01T00:00:00.000Z",
      expiresAt: "2026-01-01T01:00:00.000Z",
    });
    const context = await browser.newContext({ viewport: DESKTOP });
    const expired = watch(await context.newPage());
    await expired.goto(`${consoleUrl()}#session=${token}`);
    await expired.getByRole("alert").filter({ hasText: "expired" }).waitFor();
    expect(expired.url()).not.toContain(token);
    expect(await expired.getByRole("heading", { name: "Subscriptions" }).count()).toBe(0);
    expect((await api(stack.url, "GET", "/v1/subscriptions", { key: token })).status).toBe(401);
    await context.close();
  });
});

describe("accessibility", { timeout: 120_000 }, () => {
  it("axe finds no serious or critical violation on any screen, desktop or phone", async () => {
    const axeSource = await readFile(
      createRequire(import.meta.url).resolve("axe-core/axe.min.js"),
      "utf8",
    );
    // axe is injected as a script, which the console's own policy forbids: this context alone
    // bypasses the CSP (the other tests run under it).
    const context = await browser.newContext({ viewport: DESKTOP, bypassCSP: true });
    const scan = await context.newPage();
    const violations: string[] = [];
    const check = async (where: string) => {
      await scan.addScriptTag({ content: axeSource });
      const found = await scan.evaluate<
        Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }>
      >("axe.run(document).then((result) => result.violations)");
      for (const v of found.filter((v) => v.impact === "serious" || v.impact === "critical")) {
        violations.push(
          `${where}: ${v.id} (${v.impact}) at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`,
        );
      }
    };
    await scan.goto(consoleUrl());
    await scan.getByLabel("Admin key").waitFor();
    await check("sign in");
    await scan.getByLabel("Admin key").fill(stack.adminKey);
    await scan.getByRole("button", { name: "Sign in" }).click();
    for (const viewport of [DESKTOP, PHONE]) {
      await scan.setViewportSize(viewport);
      const size = `${viewport.width}px`;
      await scan.goto(`${consoleUrl()}#/subscriptions`);
      await row(scan, "CRM sync").waitFor();
      await check(`subscriptions ${size}`);
      await scan.getByRole("button", { name: "New subscription" }).click();
      await scan.getByRole("dialog", { name: "New subscription" }).waitFor();
      await check(`subscription modal ${size}`);
      await scan.keyboard.press("Escape");
      await scan.goto(`${consoleUrl()}#/deliveries`);
      await row(scan, "deal.updated").first().waitFor();
      await check(`deliveries ${size}`);
      await row(scan, "deal.updated").first().getByRole("link").click();
      await scan.getByRole("heading", { name: "Attempt 1" }).waitFor();
      await check(`delivery ${size}`);
      await scan.goto(`${consoleUrl()}#/failed`);
      await scan.getByRole("heading", { name: "Failed", level: 1 }).waitFor();
      await check(`failed ${size}`);
      await scan.goto(`${consoleUrl()}#/keys`);
      await row(scan, "local-admin").waitFor();
      await check(`keys ${size}`);
    }
    await context.close();
    expect(violations).toEqual([]);
  });
});

describe("afterwards", () => {
  it("no script error and no Content-Security-Policy violation happened in any page", () => {
    expect(problems).toEqual([]);
  });

  it("took the screenshots (docs/console with UPDATE_CONSOLE_SCREENSHOTS=1, with their manifest)", async () => {
    expect(shots.sort()).toEqual(
      ["delivery", "failed", "phone", "portal-session", "subscription-modal", "subscriptions"]
        .map((n) => `${n}.png`)
        .sort(),
    );
    if (UPDATE) {
      await writeFile(
        join(SCREENSHOTS, "manifest.json"),
        `${JSON.stringify(
          {
            note: "Taken by test/browser/console.test.ts; regenerate with `npm run console:screenshots`. uiHash is the console's sources (console/build.ts consoleUiHash) they show.",
            uiHash: await consoleUiHash(),
            screenshots: shots.sort(),
          },
          null,
          2,
        )}\n`,
      );
    }
  });
});
