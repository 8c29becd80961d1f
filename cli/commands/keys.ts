import { type Command, InvalidArgumentError, Option } from "commander";
import { apiKeyView } from "../../shared/http/views.ts";
import { ROLES, type Role, WORKSPACE_ID } from "../../shared/roles.ts";
import { STACK_OUTPUTS } from "../../shared/stack-outputs.ts";
import { createKey, revokeKey } from "../../shared/use-cases/keys.ts";
import type { Cli } from "../context.ts";
import { directWorkspaceStore } from "../operator.ts";
import { createdKey, keyTable } from "../render.ts";

/**
 * `webhooks keys …`: API keys, through the API — or, with `--table`, straight to DynamoDB with
 * the caller's AWS credentials (a deployment's first admin key cannot come from the API).
 */
export function keyCommands(program: Command, cli: Cli): void {
  const keys = program
    .command("keys")
    .description(
      "API keys; with --table, straight to DynamoDB (AWS credentials) for a deployment's first key",
    );
  const direct = (command: Command) => {
    const opts = command.opts();
    if (!opts.table) return undefined;
    // A bare --table: the --stack deployment's table.
    const table =
      opts.table === true ? cli.stackOutput(STACK_OUTPUTS.table) : (opts.table as string);
    if (table === undefined) {
      throw new InvalidArgumentError("--table without a name needs --stack <name> to read it from");
    }
    if (!opts.workspace || !WORKSPACE_ID.test(opts.workspace)) {
      throw new InvalidArgumentError(
        "--table needs --workspace <id> (lowercase letters, digits, -)",
      );
    }
    return {
      workspaceId: opts.workspace as string,
      store: directWorkspaceStore(cli.env, table),
    };
  };
  const keyTarget = (c: Command) =>
    c
      .option(
        "--table [name]",
        "write to this DynamoDB table instead of calling the API (a bare --table: the --stack deployment's)",
      )
      .option("--workspace <id>", "the workspace (with --table)");

  keyTarget(keys.command("create"))
    .description("mint a key; it is shown once")
    .addOption(new Option("--role <role>", "what it may do").choices(ROLES).makeOptionMandatory())
    .option("--name <name>", "a label")
    .action(async (opts, command: Command) => {
      const straight = direct(command);
      const role = opts.role as Role;
      const answer = straight
        ? await createKey(straight.workspaceId, { role, name: opts.name }, straight.store).then(
            ({ apiKey, plaintext }) => ({ ...apiKeyView(apiKey), key: plaintext }),
          )
        : await cli
            .api(command)
            .call("POST /v1/keys", { body: { role, ...(opts.name ? { name: opts.name } : {}) } });
      cli.print(command, answer, () => createdKey(answer));
    });

  keyTarget(keys.command("list"))
    .description("list keys (never the keys themselves)")
    .action(async (_opts, command: Command) => {
      const straight = direct(command);
      const answer = straight
        ? { data: (await straight.store.listKeys(straight.workspaceId)).map(apiKeyView) }
        : await cli.api(command).call("GET /v1/keys");
      cli.print(command, answer, () => keyTable(answer));
    });

  keyTarget(keys.command("revoke <id>"))
    .description("revoke a key at once")
    .action(async (id: string, _opts, command: Command) => {
      const straight = direct(command);
      if (straight) await revokeKey(straight.workspaceId, id, straight.store);
      else await cli.api(command).call("DELETE /v1/keys/{id}", { params: { id } });
      cli.print(command, { revoked: id }, () => `Revoked ${id}.`);
    });
}
