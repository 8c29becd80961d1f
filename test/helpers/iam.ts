import type { Template } from "aws-cdk-lib/assertions";
import { render } from "../infra/synth.ts";

/**
 * Just enough of IAM's policy evaluation to ask "would this role allow this DynamoDB call?" of
 * a synthesized template: Allow statements (the stack has no Deny on DynamoDB), actions,
 * table and index resources, and the condition operators the stack uses on DynamoDB —
 * `ForAllValues:StringLike`, `ForAllValues:StringEquals`, `StringEqualsIfExists` — over the
 * keys DynamoDB puts in a request's context: `dynamodb:LeadingKeys` (the partition keys it
 * touches), `dynamodb:Attributes` (the top-level attribute names it names: the item's, or
 * those of its expressions, keys included) and `dynamodb:ReturnValues`.
 *
 * It is a reading of the documented rules (AWS, "Using IAM policy conditions for fine-grained
 * access control"), not AWS's evaluator: the tests use it to check that the calls the
 * functions really make fall inside their policies, and that the writes they must not make
 * fall outside.
 */
export interface DynamoCall {
  /** `GetItem`, `PutItem`, `UpdateItem`, `Query`, `BatchGetItem`, … */
  action: string;
  /** The document client command's input, as sent. */
  input: Record<string, unknown>;
}

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, string | string[]>>;
}

/** Every statement of the policies attached to the role whose logical id starts so. */
export function roleStatements(template: Template, rolePrefix: string): Statement[] {
  return Object.values(template.findResources("AWS::IAM::Policy"))
    .filter((policy) => String(policy.Properties.Roles[0].Ref).startsWith(rolePrefix))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
}

const KEYWORDS = new Set(
  [
    "SET",
    "REMOVE",
    "ADD",
    "DELETE",
    "AND",
    "OR",
    "NOT",
    "IN",
    "BETWEEN",
    "attribute_exists",
    "attribute_not_exists",
    "attribute_type",
    "if_not_exists",
    "list_append",
    "begins_with",
    "contains",
    "size",
  ].map((word) => word.toLowerCase()),
);

/** Top-level attribute names an expression names (`#alias` resolved, `:values` skipped). */
function expressionNames(expression: unknown, aliases: Record<string, string>): string[] {
  if (typeof expression !== "string") return [];
  const names: string[] = [];
  for (const [, token] of expression.matchAll(/(?<![:\w#])(#?[A-Za-z_][\w]*)/g)) {
    if (!token || KEYWORDS.has(token.toLowerCase())) continue;
    names.push(token.startsWith("#") ? (aliases[token] ?? token) : token);
  }
  return names;
}

/** The request context DynamoDB builds for a call (the keys this evaluator knows). */
export function requestContext(call: DynamoCall, keys = { pk: "pk", sk: "sk" }) {
  const input = call.input;
  const aliases = (input.ExpressionAttributeNames ?? {}) as Record<string, string>;
  const values = (input.ExpressionAttributeValues ?? {}) as Record<string, unknown>;
  const key = input.Key as Record<string, string> | undefined;
  const item = input.Item as Record<string, unknown> | undefined;
  let leadingKeys: string[] = [];
  let attributes: string[] | undefined;
  switch (call.action) {
    case "PutItem":
      leadingKeys = [String(item?.[keys.pk])];
      attributes = [
        ...Object.keys(item ?? {}),
        ...expressionNames(input.ConditionExpression, aliases),
      ];
      break;
    case "UpdateItem":
    case "DeleteItem":
      leadingKeys = [String(key?.[keys.pk])];
      attributes = [
        ...Object.keys(key ?? {}),
        ...expressionNames(input.UpdateExpression, aliases),
        ...expressionNames(input.ConditionExpression, aliases),
      ];
      break;
    case "GetItem":
      leadingKeys = [String(key?.[keys.pk])];
      break;
    case "BatchGetItem":
      leadingKeys = Object.values(
        input.RequestItems as Record<string, { Keys: Array<Record<string, string>> }>,
      ).flatMap((request) => request.Keys.map((k) => String(k[keys.pk])));
      break;
    case "Query":
      leadingKeys = [String(values[":pk"])];
      break;
  }
  return {
    "dynamodb:LeadingKeys": [...new Set(leadingKeys)],
    ...(attributes ? { "dynamodb:Attributes": [...new Set(attributes)] } : {}),
    ...(input.ReturnValues === undefined
      ? {}
      : { "dynamodb:ReturnValues": [String(input.ReturnValues)] }),
  } as Record<string, string[]>;
}

/** IAM's StringLike: `*` any run of characters, `?` any one. */
const like = (pattern: string, value: string) =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
    "s",
  ).test(value);

function conditionHolds(
  operator: string,
  expected: Record<string, string | string[]>,
  context: Record<string, string[]>,
): boolean {
  return Object.entries(expected).every(([name, allowed]) => {
    const wanted = [allowed].flat();
    const given = context[name];
    switch (operator) {
      case "ForAllValues:StringLike":
        return (given ?? []).every((value) => wanted.some((pattern) => like(pattern, value)));
      case "ForAllValues:StringEquals":
        return (given ?? []).every((value) => wanted.includes(value));
      case "StringEqualsIfExists":
        return given === undefined || given.every((value) => wanted.includes(value));
      default:
        throw new Error(`this evaluator does not know the operator ${operator}`);
    }
  });
}

/** Would these statements allow the call on `table` (its index, when the call names one)? */
export function allows(statements: Statement[], table: string, call: DynamoCall): boolean {
  const resource = call.input.IndexName ? `${table}/index/${call.input.IndexName}` : table;
  const context = requestContext(call);
  return statements.some(
    (statement) =>
      statement.Effect === "Allow" &&
      [statement.Action].flat().includes(`dynamodb:${call.action}`) &&
      [statement.Resource].flat().some((r) => render(r) === resource) &&
      Object.entries(statement.Condition ?? {}).every(([operator, expected]) =>
        conditionHolds(operator, expected, context),
      ),
  );
}
