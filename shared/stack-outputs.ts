/**
 * The CloudFormation outputs of a deployment (infra/webhooks-stack.ts) that tools read back:
 * the CLI's `--stack <name>` (cli/stack.ts) and `npm run smoke` find the deployment's names
 * here instead of having operators copy them by hand. Plain data: the CDK app names its
 * outputs with these, and a test holds the stack to them.
 */
export const STACK_OUTPUTS = {
  /** The HTTP API's base URL. */
  apiUrl: "ApiUrl",
  /** The operators' resend function (`webhooks dlq drain`, the smoke test). */
  resendFunction: "ResendFunctionName",
  /** The table (`webhooks keys create --table`: a deployment's first admin key). */
  table: "TableName",
} as const;

export type StackOutput = (typeof STACK_OUTPUTS)[keyof typeof STACK_OUTPUTS];

/** The stack name of a stage, as bin/cdk.ts names it. */
export const stackName = (stage: string): string => `customermates-webhooks-${stage}`;
