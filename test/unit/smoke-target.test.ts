import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { smokeTarget } from "../../cli/smoke.ts";
import { describeDeployment } from "../../cli/stack.ts";

/**
 * Where `npm run smoke` goes: the command line first, then the stack's outputs (DescribeStacks,
 * stubbed), then the environment; the local stack by default.
 */
const cloudFormation = mockClient(CloudFormationClient);
const describeStack = (stack: string) => describeDeployment(stack);
const cli = (value: string) => ({ value, fromCommandLine: true });
const fromEnv = (value: string) => ({ value, fromCommandLine: false });

beforeEach(() => {
  cloudFormation.reset();
  cloudFormation.on(DescribeStacksCommand, { StackName: "customermates-webhooks-prod" }).resolves({
    Stacks: [
      {
        StackName: "customermates-webhooks-prod",
        StackStatus: "CREATE_COMPLETE",
        CreationTime: new Date(),
        Outputs: [
          { OutputKey: "ApiUrl", OutputValue: "https://abc.execute-api.eu-west-1.amazonaws.com" },
          { OutputKey: "ResendFunctionName", OutputValue: "webhooks-prod-resend" },
        ],
      },
    ],
  });
});

describe("npm run smoke's target", () => {
  it("is the stack's API and resend function, over the environment's", async () => {
    expect(
      await smokeTarget(
        {
          stack: "customermates-webhooks-prod",
          apiUrl: fromEnv("http://127.0.0.1:3000"),
          resendFunction: fromEnv("webhooks-resend"),
        },
        describeStack,
      ),
    ).toEqual({
      apiUrl: "https://abc.execute-api.eu-west-1.amazonaws.com",
      resendFunction: "webhooks-prod-resend",
    });
  });

  it("takes what the command line names", async () => {
    expect(
      await smokeTarget(
        { stack: "customermates-webhooks-prod", resendFunction: cli("mine") },
        describeStack,
      ),
    ).toMatchObject({ resendFunction: "mine" });
  });

  it("is the local stack by default, and wants the function named anywhere else", async () => {
    expect(await smokeTarget({}, describeStack)).toEqual({
      apiUrl: "http://127.0.0.1:3000",
      resendFunction: "webhooks-resend",
    });
    await expect(
      smokeTarget({ apiUrl: cli("https://api.example.com") }, describeStack),
    ).rejects.toThrow("name the resend function");
  });

  it("says so when the stack is missing", async () => {
    cloudFormation
      .on(DescribeStacksCommand, { StackName: "nope" })
      .rejects(
        Object.assign(new Error("Stack with id nope does not exist"), { name: "ValidationError" }),
      );
    await expect(smokeTarget({ stack: "nope" }, describeStack)).rejects.toThrow(/no stack 'nope'/);
  });
});
