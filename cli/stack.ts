import {
  CloudFormationClient,
  DescribeStacksCommand,
  type Stack,
} from "@aws-sdk/client-cloudformation";
import { type StackOutput, stackName } from "../shared/stack-outputs.ts";

/**
 * `--stack <name>`: a deployment's names, read from its CloudFormation outputs
 * (`DescribeStacks`, with the caller's AWS credentials and region) instead of copied by hand —
 * the API's URL, the resend function's name (on AWS `webhooks-<stage>-resend`, not the local
 * `webhooks-resend`), the table's name.
 */
export class StackError extends Error {
  override name = "StackError";
}

export interface Deployment {
  stack: string;
  region: string;
  /** Every output of the stack, by key. */
  outputs: Readonly<Record<string, string>>;
  /** One output; a StackError saying what the stack has instead when it is missing. */
  output(key: StackOutput): string;
}

async function regionOf(client: CloudFormationClient): Promise<string> {
  try {
    return await client.config.region();
  } catch {
    return "the configured region";
  }
}

export async function describeDeployment(
  name: string,
  client: CloudFormationClient = new CloudFormationClient({}),
): Promise<Deployment> {
  const region = await regionOf(client);
  let stacks: Stack[];
  try {
    ({ Stacks: stacks = [] } = await client.send(new DescribeStacksCommand({ StackName: name })));
  } catch (error) {
    const { name: kind, message } = error as Error;
    if (kind === "ValidationError" && /does not exist/i.test(message)) {
      throw new StackError(
        `no stack '${name}' in ${region}: check --stack (a stage's stack is ${stackName("<stage>")}) and AWS_REGION.`,
      );
    }
    throw new StackError(`cannot read stack '${name}' in ${region}: ${message}`);
  }
  const [stack] = stacks;
  if (!stack) throw new StackError(`no stack '${name}' in ${region}.`);
  const outputs: Record<string, string> = {};
  for (const output of stack.Outputs ?? []) {
    if (output.OutputKey && output.OutputValue) outputs[output.OutputKey] = output.OutputValue;
  }
  return {
    stack: name,
    region,
    outputs,
    output(key) {
      const value = outputs[key];
      if (value === undefined) {
        const has = Object.keys(outputs).sort().join(", ") || "none";
        throw new StackError(
          `stack '${name}' (${stack.StackStatus ?? "status unknown"}) has no output ${key} (it has: ${has}); deploy this version of it (npm run deploy), or give the name yourself.`,
        );
      }
      return value;
    },
  };
}
