import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { findInvokeToken, INVOKE_TOKEN_ENV, INVOKE_TOKEN_HEADER } from "../local/invoke-token.ts";
import { createDocumentClient } from "../shared/aws.ts";
import type { ResendJob } from "../shared/schemas.ts";
import { DynamoWorkspaceStore } from "../shared/store/workspace-store.ts";
import type { JobResult } from "../shared/use-cases/resend.ts";
import type { Globals } from "./context.ts";
import { isLoopbackUrl } from "./options.ts";

/**
 * The operators' paths that do not go through the HTTP API but straight to AWS with the
 * caller's credentials: the resend function (Lambda Invoke, `dlq drain`) and the table
 * (`keys … --table`, a deployment's first admin key).
 */
type Env = Record<string, string | undefined>;

/**
 * SDK settings for a local endpoint: when AWS_ENDPOINT_URL_<SERVICE> points at this machine
 * and no credentials are set, the emulators accept any.
 */
function localCredentials(env: Env, service: string) {
  const endpoint = env[`AWS_ENDPOINT_URL_${service}`];
  const local =
    endpoint !== undefined && /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/.test(endpoint);
  return local && !env.AWS_ACCESS_KEY_ID
    ? {
        region: env.AWS_REGION ?? "us-east-1",
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
      }
    : {};
}

/** The workspace store of a table, written with the caller's AWS credentials. */
export function directWorkspaceStore(env: Env, tableName: string): DynamoWorkspaceStore {
  return new DynamoWorkspaceStore({
    client: createDocumentClient(localCredentials(env, "DYNAMODB")),
    name: tableName,
  });
}

/**
 * Invokes the resend function; against the local stack unless a Lambda endpoint is set. The
 * local stack's Invoke API wants its invoke token (local/invoke-token.ts); AWS wants IAM.
 */
export async function invokeResend<A extends ResendJob["action"]>(
  g: Globals,
  env: Env,
  name: string,
  job: Extract<ResendJob, { action: A }>,
): Promise<Extract<JobResult, { action: A }>> {
  const endpoint = env.AWS_ENDPOINT_URL_LAMBDA ?? (isLoopbackUrl(g.apiUrl) ? g.apiUrl : undefined);
  const lambda = new LambdaClient({
    ...(endpoint ? { endpoint } : {}),
    ...localCredentials({ ...env, AWS_ENDPOINT_URL_LAMBDA: endpoint }, "LAMBDA"),
  });
  if (endpoint && isLoopbackUrl(endpoint)) {
    const token = findInvokeToken(env);
    if (!token) {
      throw new Error(
        `the local stack at ${endpoint} needs its invoke token: export ${INVOKE_TOKEN_ENV} as \`npm start\` prints it, or set WEBHOOKS_LOCAL_DATA_DIR to the stack's data directory.`,
      );
    }
    lambda.middlewareStack.add(
      (next) => (args) => {
        const request = args.request as { headers?: Record<string, string> };
        if (request.headers) request.headers[INVOKE_TOKEN_HEADER] = token;
        return next(args);
      },
      { step: "build", name: "localInvokeToken" },
    );
  }
  const result = await lambda.send(
    new InvokeCommand({
      FunctionName: name,
      Payload: new TextEncoder().encode(JSON.stringify(job)),
    }),
  );
  const body = JSON.parse(new TextDecoder().decode(result.Payload ?? new Uint8Array()) || "null");
  if (result.FunctionError) {
    throw new Error(`The resend function failed: ${body?.errorMessage ?? "unknown error"}`);
  }
  return body;
}
