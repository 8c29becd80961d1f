import { RemovalPolicy } from "aws-cdk-lib";
import {
  AttributeType,
  Billing,
  ProjectionType,
  TableEncryptionV2,
  TableV2,
} from "aws-cdk-lib/aws-dynamodb";
import { type IGrantable, PolicyStatement } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import { Construct } from "constructs";
import { ENCRYPTION_SERVICE } from "../shared/secrets/secret-box.ts";
import { DEAD_LETTER_INDEX, DEAD_LETTER_PROJECTION, TTL_ATTRIBUTE } from "../shared/store/table.ts";

/**
 * The single table (see shared/store/table.ts for its layout). On-demand, point-in-time
 * recovery, TTL on `expiresAt`, and kept when the stack is deleted unless told otherwise.
 * One sparse index of dead letters: only failed (or being resent) deliveries are in it, so
 * a delivery that succeeds never pays for it.
 */
export class Store extends Construct {
  readonly table: TableV2;
  /**
   * Wraps the data keys that seal subscription secrets (shared/secrets): a table export alone
   * reveals no secret. Kept as long as the table is, or its secrets could never be opened.
   */
  readonly secretsKey: Key;

  constructor(scope: Construct, id: string, props: { tableName: string; retainData: boolean }) {
    super(scope, id);
    this.table = new TableV2(this, "Table", {
      tableName: props.tableName,
      partitionKey: { name: "pk", type: AttributeType.STRING },
      sortKey: { name: "sk", type: AttributeType.STRING },
      billing: Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      encryption: TableEncryptionV2.awsManagedKey(),
      globalSecondaryIndexes: [
        {
          indexName: DEAD_LETTER_INDEX,
          partitionKey: { name: "dlqPk", type: AttributeType.STRING },
          sortKey: { name: "dlqSk", type: AttributeType.STRING },
          projectionType: ProjectionType.INCLUDE,
          nonKeyAttributes: DEAD_LETTER_PROJECTION,
        },
      ],
      deletionProtection: props.retainData,
      removalPolicy: props.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.secretsKey = new Key(this, "SecretsKey", {
      description: `Seals the signing secrets in ${props.tableName}`,
      enableKeyRotation: true,
      removalPolicy: props.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
  }

  /**
   * Grants exactly these DynamoDB actions on the table, plus the dead-letter index when asked:
   * never `index/*`, never an action the function does not call.
   */
  /**
   * Sealing new secrets (the API) or opening stored ones (deliver): one KMS action each, only
   * for this service's data keys, and only for keys bound to a workspace (the encryption
   * context names it, so a policy can narrow a grant to some workspaces).
   */
  grantSecrets(grantee: IGrantable, action: "kms:GenerateDataKey" | "kms:Decrypt") {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: [action],
        resources: [this.secretsKey.keyArn],
        conditions: {
          StringEquals: { "kms:EncryptionContext:service": ENCRYPTION_SERVICE },
          Null: { "kms:EncryptionContext:workspace": "false" },
        },
      }),
    );
  }

  grant(
    grantee: IGrantable,
    actions: readonly string[],
    options: { deadLetterIndex?: boolean } = {},
  ) {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: actions.map((action) => `dynamodb:${action}`),
        resources: [
          this.table.tableArn,
          ...(options.deadLetterIndex ? [`${this.table.tableArn}/index/${DEAD_LETTER_INDEX}`] : []),
        ],
      }),
    );
  }
}
