import { App, type Environment, Validations } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { readSettings } from "../../infra/settings.ts";
import { WebhooksStack } from "../../infra/webhooks-stack.ts";

/**
 * Synthesizes the stack without bundling the functions (that is `npm run synth`'s job), from
 * context values as `-c key=value` gives them; `nag` adds cdk-nag's AWS Solutions rules, which
 * run when the app synthesizes.
 */
export function synth(
  context: Record<string, unknown> = {},
  options: { nag?: boolean; env?: Environment; appContext?: Record<string, unknown> } = {},
) {
  const app = new App({
    context: { "aws:cdk:bundling-stacks": [], ...options.appContext },
  });
  const settings = readSettings((key) => ({ stage: "test", ...context })[key]);
  const stack = new WebhooksStack(app, "webhooks-test", {
    settings,
    ...(options.env ? { env: options.env } : {}),
  });
  if (options.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, settings, template: Template.fromStack(stack) };
}

/** A CloudFormation string (literal, Fn::Join, Fn::GetAtt, Ref) as text, to compare values. */
export const render = (value: unknown): string => {
  if (typeof value === "string") return value;
  const v = value as Record<string, unknown>;
  if (v["Fn::Join"]) {
    const [separator, parts] = v["Fn::Join"] as [string, unknown[]];
    return parts.map(render).join(separator);
  }
  if (v["Fn::GetAtt"]) return `\${${(v["Fn::GetAtt"] as string[]).join(".")}}`;
  if (v.Ref) return `\${${v.Ref}}`;
  throw new Error(`cannot render ${JSON.stringify(value)}`);
};

/** The console's copying function: CDK's BucketDeployment handler (infra/console.ts). */
const isConsoleCopier = (logicalId: string) => logicalId.startsWith("CustomCDKBucketDeployment");

/**
 * The service's own functions (API, deliver, resend): every Lambda function of the template but
 * the one CDK's BucketDeployment adds to copy the web console into its bucket at deploy time.
 */
export function serviceFunctions(template: Template) {
  return Object.fromEntries(
    Object.entries(template.findResources("AWS::Lambda::Function")).filter(
      ([id]) => !isConsoleCopier(id),
    ),
  );
}

export function consoleCopiers(template: Template) {
  return Object.keys(template.findResources("AWS::Lambda::Function")).filter(isConsoleCopier);
}
