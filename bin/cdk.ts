#!/usr/bin/env node
/** The CDK app (`npm run synth`, `npm run deploy`): one stack per stage. */
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { readSettings, SettingsError } from "../infra/settings.ts";
import { WebhooksStack } from "../infra/webhooks-stack.ts";
import { stackName } from "../shared/stack-outputs.ts";

const app = new App();
// cdk-nag's AWS Solutions rules run on every synth: a finding that is neither fixed nor
// acknowledged (with its reason, in the construct it concerns) fails the synth.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
try {
  const settings = readSettings((key) => app.node.tryGetContext(key));
  new WebhooksStack(app, stackName(settings.stage), {
    settings,
    description: "Customermates Webhooks: signed, retried, inspectable webhook delivery",
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
} catch (error) {
  if (!(error instanceof SettingsError)) throw error;
  console.error(error.message);
  process.exit(1);
}
