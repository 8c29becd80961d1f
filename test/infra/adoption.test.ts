import { describe, expect, it } from "vitest";
import { SettingsError } from "../../infra/settings.ts";
import { render, serviceFunctions, synth } from "./synth.ts";

const TABLE = "webhooks-prod-restored-20261130";
const KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const TABLE_ARN = `arn:\${AWS::Partition}:dynamodb:\${AWS::Region}:\${AWS::AccountId}:table/${TABLE}`;

interface Statement {
  Action: string | string[];
  Resource: unknown;
}

describe("keeping data across a teardown", () => {
  it("gives a new table no fixed name, so a retained table of the same stage never collides", () => {
    const { template } = synth();
    const [table, ...more] = Object.values(template.findResources("AWS::DynamoDB::GlobalTable"));
    expect(more).toEqual([]);
    expect(table?.Properties).not.toHaveProperty("TableName");
    // The key is kept with the table, and both are destroyed together when asked.
    template.hasResource("AWS::KMS::Key", {
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
    });
    template.hasResource("AWS::DynamoDB::GlobalTable", { DeletionPolicy: "Retain" });
    const disposable = synth({ retainData: "false" }).template;
    disposable.hasResource("AWS::KMS::Key", { DeletionPolicy: "Delete" });
    disposable.hasResource("AWS::DynamoDB::GlobalTable", { DeletionPolicy: "Delete" });
  });

  it("outputs what a later stack needs to adopt the data: the table's name and the key's ARN", () => {
    const { template } = synth();
    const outputs = template.findOutputs("*");
    const table = Object.keys(template.findResources("AWS::DynamoDB::GlobalTable"))[0];
    const key = Object.keys(template.findResources("AWS::KMS::Key"))[0];
    expect(outputs.TableName?.Value).toEqual({ Ref: table });
    expect(outputs.SecretsKeyArn?.Value).toEqual({ "Fn::GetAtt": [key, "Arn"] });
  });
});

describe("adopting an existing table and KMS key", () => {
  const { template } = synth({ existingTableName: TABLE, existingKmsKeyArn: KEY });
  const statements = Object.values(template.findResources("AWS::IAM::Policy")).flatMap(
    (p) => p.Properties.PolicyDocument.Statement as Statement[],
  );
  const resourcesOf = (prefix: string) =>
    statements
      .filter((s) => [s.Action].flat().some((a) => a.startsWith(prefix)))
      .flatMap((s) => [s.Resource].flat().map(render));

  it("creates neither a table nor a key", () => {
    template.resourceCountIs("AWS::DynamoDB::GlobalTable", 0);
    template.resourceCountIs("AWS::DynamoDB::Table", 0);
    template.resourceCountIs("AWS::KMS::Key", 0);
  });

  it("grants the functions exactly the adopted table, its dead-letter index, and the adopted key", () => {
    expect(new Set(resourcesOf("dynamodb:"))).toEqual(
      new Set([TABLE_ARN, `${TABLE_ARN}/index/dead-letters`]),
    );
    // The API reads the dead-letter index; it must exist on the adopted table (README).
    expect(resourcesOf("dynamodb:")).toContain(`${TABLE_ARN}/index/dead-letters`);
    expect(resourcesOf("kms:")).toEqual([KEY, KEY, KEY]);
  });

  it("points every function's environment, and the outputs, at them", () => {
    const functions = Object.values(serviceFunctions(template));
    expect(functions).toHaveLength(3);
    for (const fn of functions) {
      expect(fn.Properties.Environment.Variables).toMatchObject({
        WEBHOOKS_TABLE_NAME: TABLE,
        WEBHOOKS_KMS_KEY_ID: KEY,
      });
    }
    template.hasOutput("TableName", { Value: TABLE });
    template.hasOutput("SecretsKeyArn", { Value: KEY });
  });

  it("passes cdk-nag's AWS Solutions rules", () => {
    const { app } = synth({ existingTableName: TABLE, existingKmsKeyArn: KEY }, { nag: true });
    expect(() => app.synth()).not.toThrow();
  });

  it("refuses a table without its key, a key without its table, and a key that is not an ARN", () => {
    expect(() => synth({ existingTableName: TABLE })).toThrow(SettingsError);
    expect(() => synth({ existingTableName: TABLE })).toThrow(
      /existingKmsKeyArn: required with existingTableName: the table's secrets are sealed with that key/,
    );
    expect(() => synth({ existingKmsKeyArn: KEY })).toThrow(
      /existingTableName: required with existingKmsKeyArn/,
    );
    expect(() =>
      synth({ existingTableName: TABLE, existingKmsKeyArn: "alias/webhooks-prod" }),
    ).toThrow(/existingKmsKeyArn: must be a KMS key ARN/);
    expect(() => synth({ existingTableName: "no", existingKmsKeyArn: KEY })).toThrow(
      /existingTableName: must be a DynamoDB table name/,
    );
  });
});
