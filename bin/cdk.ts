#!/usr/bin/env node
/** The CDK app (`npm run synth`, `npm run deploy`): one stack per stage. */
import { App } from "aws-cdk-lib";
import { readSettings, SettingsError } from "../infra/settings.ts";
import { WebhooksStack } from "../infra/webhooks-stack.ts";

const app = new App();
try {
  const settings = readSettings((key) => app.node.tryGetContext(key));
  new WebhooksStack(app, `customermates-webhooks-${settings.stage}`, {
    settings,
    description: "Customermates Webhooks: signed, retried, inspectable webhook delivery",
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
} catch (error) {
  if (!(error instanceof SettingsError)) throw error;
  console.error(error.message);
  process.exit(1);
}
