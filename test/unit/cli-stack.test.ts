import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Io } from "../../cli/output.ts";
import { createProgram } from "../../cli/program.ts";
import { startServer, type TestServer } from "../helpers/http-server.ts";

/**
 * `webhooks --stack <name>`: the deployment's names come from its CloudFormation outputs
 * (DescribeStacks, stubbed here), not from the local defaults — the API URL, the resend
 * function (`webhooks-<stage>-resend` on AWS), the table — unless the command line names them.
 */
const cloudFormation = mockClient(CloudFormationClient);
const lambda = mockClient(LambdaClient);
const dynamo = mockClient(DynamoDBDocumentClient);
let api: TestServer;

beforeAll(async () => {
  api = await startServer((_request, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ data: [] }));
  });
});
afterAll(() => api.close());

const AWS_API = "https://abc123.execute-api.eu-west-1.amazonaws.com";
const outputs = (apiUrl = AWS_API) => ({
  ApiUrl: apiUrl,
  ResendFunctionName: "webhooks-prod-resend",
  TableName: "customermates-webhooks-prod-StoreTable-1ABC",
  DeadLetterQueueUrl: "https://sqs.eu-west-1.amazonaws.com/1/webhooks-prod-deliveries-dlq",
});

/** DescribeStacks answers with these outputs for customermates-webhooks-prod. */
function stackWith(values: Record<string, string>) {
  cloudFormation.on(DescribeStacksCommand, { StackName: "customermates-webhooks-prod" }).resolves({
    Stacks: [
      {
        StackName: "customermates-webhooks-prod",
        StackStatus: "UPDATE_COMPLETE",
        CreationTime: new Date(),
        Outputs: Object.entries(values).map(([OutputKey, OutputValue]) => ({
          OutputKey,
          OutputValue,
        })),
      },
    ],
  });
}

beforeEach(() => {
  cloudFormation.reset();
  lambda.reset();
  dynamo.reset();
  stackWith(outputs());
  lambda.on(InvokeCommand).resolves({
    StatusCode: 200,
    Payload: new TextEncoder().encode(
      JSON.stringify({ action: "drain", moved: 2, dropped: 0, skipped: 0, errors: [], left: 0 }),
    ) as never,
  });
  dynamo.on(UpdateCommand).resolves({});
  dynamo.on(PutCommand).resolves({});
});

async function run(args: string[]) {
  const out: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => out.push(t), interactive: false };
  await createProgram(io, {})
    .exitOverride()
    .parseAsync(["node", "webhooks", ...args]);
  return out.join("\n");
}

describe("webhooks --stack", () => {
  it("drains through the stack's resend function, not the local one", async () => {
    const printed = await run(["--stack", "customermates-webhooks-prod", "dlq", "drain", "--json"]);
    expect(JSON.parse(printed)).toMatchObject({ moved: 2 });
    expect(cloudFormation.commandCalls(DescribeStacksCommand)).toHaveLength(1);
    const [invoke] = lambda.commandCalls(InvokeCommand);
    expect(invoke?.args[0].input.FunctionName).toBe("webhooks-prod-resend");
  });

  it("lets the command line name the function itself", async () => {
    await run(["--stack", "customermates-webhooks-prod", "dlq", "drain", "--function", "mine"]);
    expect(lambda.commandCalls(InvokeCommand)[0]?.args[0].input.FunctionName).toBe("mine");
  });

  it("calls the API at the stack's URL (and --api-url still wins)", async () => {
    stackWith(outputs(api.url));
    api.requests.length = 0;
    await run([
      "--stack",
      "customermates-webhooks-prod",
      "--key",
      "whk_prod_x",
      "subscriptions",
      "list",
    ]);
    expect(api.requests.map((r) => r.url)).toEqual(["/v1/subscriptions"]);
    const elsewhere = await startServer((_request, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ data: [] }));
    });
    try {
      await run([
        "--stack",
        "customermates-webhooks-prod",
        "--api-url",
        elsewhere.url,
        "--key",
        "k",
        "subscriptions",
        "list",
      ]);
      expect(elsewhere.requests).toHaveLength(1);
      expect(api.requests).toHaveLength(1);
    } finally {
      await elsewhere.close();
    }
  });

  it("writes a deployment's first admin key to the stack's table with a bare --table", async () => {
    const printed = await run([
      "--stack",
      "customermates-webhooks-prod",
      "--json",
      "keys",
      "create",
      "--role",
      "admin",
      "--workspace",
      "acme",
      "--table",
    ]);
    expect(JSON.parse(printed).key).toMatch(/^whk_acme_/);
    const tables = [...dynamo.commandCalls(UpdateCommand), ...dynamo.commandCalls(PutCommand)].map(
      (call) => call.args[0].input.TableName,
    );
    expect(new Set(tables)).toEqual(new Set(["customermates-webhooks-prod-StoreTable-1ABC"]));
  });

  it("says clearly when the stack does not exist", async () => {
    cloudFormation.on(DescribeStacksCommand, { StackName: "customermates-webhooks-nope" }).rejects(
      Object.assign(new Error("Stack with id customermates-webhooks-nope does not exist"), {
        name: "ValidationError",
      }),
    );
    await expect(run(["--stack", "customermates-webhooks-nope", "dlq", "drain"])).rejects.toThrow(
      /no stack 'customermates-webhooks-nope' in .*check --stack .*AWS_REGION/,
    );
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
  });

  it("says which output is missing, and what the stack has", async () => {
    cloudFormation.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: "old",
          StackStatus: "UPDATE_COMPLETE",
          CreationTime: new Date(),
          Outputs: [{ OutputKey: "ApiUrl", OutputValue: api.url }],
        },
      ],
    });
    await expect(run(["--stack", "old", "dlq", "drain"])).rejects.toThrow(
      "stack 'old' (UPDATE_COMPLETE) has no output ResendFunctionName (it has: ApiUrl)",
    );
    await expect(
      run(["--stack", "old", "keys", "create", "--role", "admin", "--workspace", "a", "--table"]),
    ).rejects.toThrow("has no output TableName");
  });

  it("asks for --stack when --table has no name", async () => {
    await expect(
      run(["keys", "create", "--role", "admin", "--workspace", "acme", "--table"]),
    ).rejects.toThrow("--table without a name needs --stack");
  });
});
