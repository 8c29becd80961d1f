#!/usr/bin/env node
/**
 * `npm start`: the whole webhook pipeline on this machine, no AWS account and no Docker.
 * Prints the API URL and the demo workspace's keys, then runs until Ctrl-C.
 */
import { ensureConsoleBuilt } from "../console/build.ts";
import { RESEND_FUNCTION, startLocalStack } from "../local/stack.ts";

try {
  // The web console is built here, when there is no build of the current sources (a few
  // seconds); a failed build leaves the API running and says why.
  let consoleNote = "";
  try {
    await ensureConsoleBuilt((message) => console.log(message));
  } catch (error) {
    consoleNote = `  (not built: ${(error as Error).message.split("\n")[0]})`;
  }
  const stack = await startLocalStack();
  const keyNote =
    stack.keySource === "environment"
      ? "from WEBHOOKS_LOCAL_*_KEY"
      : stack.keySource === "generated"
        ? `generated now; kept in ${stack.dataDir}/local-keys.json`
        : `kept in ${stack.dataDir}/local-keys.json`;
  console.log(`
Customermates Webhooks — local stack
  API          ${stack.url}   (try: curl ${stack.url}/health)
  Console      ${stack.url}/console   (sign in with the admin key)${consoleNote}
  Workspace    demo
  Admin key    ${stack.adminKey}
  Ingest key   ${stack.ingestKey}
               (${keyNote})
  Data         ${stack.dataDir}
  Retries      ${stack.schedule.join(", ")} seconds  (WEBHOOKS_RETRY_SCHEDULE)
  Operators    resend function "${RESEND_FUNCTION}" at ${stack.url} (Lambda Invoke API, loopback only,
               with the invoke token: kept in ${stack.dataDir}/local-invoke-token);
               DynamoDB at ${stack.dynamoEndpoint}

  export WEBHOOKS_API_URL=${stack.url}
  export WEBHOOKS_API_KEY=${stack.adminKey}
  export WEBHOOKS_INGEST_KEY=${stack.ingestKey}
  export WEBHOOKS_LOCAL_INVOKE_TOKEN=${stack.invokeToken}
`);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    await stack.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
