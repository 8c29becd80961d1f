import { RemovalPolicy } from "aws-cdk-lib";
import {
  AttributeType,
  Billing,
  type ITableV2,
  ProjectionType,
  TableEncryptionV2,
  TableV2,
} from "aws-cdk-lib/aws-dynamodb";
import { type IGrantable, PolicyStatement } from "aws-cdk-lib/aws-iam";
import { type IKey, Key } from "aws-cdk-lib/aws-kms";
import { Construct } from "constructs";
import { ENCRYPTION_SERVICE } from "../shared/secrets/secret-box.ts";
import { DEAD_LETTER_INDEX, DEAD_LETTER_PROJECTION, TTL_ATTRIBUTE } from "../shared/store/table.ts";

export interface StoreProps {
  namePrefix: string;
  /** Keep the table and the key when the stack is deleted (and protect the table). */
  retainData: boolean;
  /**
   * Adopt a table and the key its secrets were sealed with (a retained or restored table)
   * instead of creating them. The stack then never changes or deletes either.
   */
  existing?: { tableName: string; kmsKeyArn: string } | undefined;
}

/**
 * The single table (see shared/store/table.ts for its layout). On-demand, point-in-time
 * recovery, TTL on `expiresAt`, and kept when the stack is deleted unless told otherwise.
 * One sparse index of dead letters: only failed (or being resent) deliveries are in it, so
 * a delivery that succeeds never pays for it.
 *
 * The table has no fixed name: a retained table (and its key) outlives its stack, and a new
 * stack of the same stage must not collide with it. To carry on with the old data, adopt it
 * (`existing`, README "Keeping data across a teardown").
 */
export class Store extends Construct {
  readonly table: ITableV2;
  /**
   * Wraps the data keys that seal subscription secrets (shared/secrets): a table export alone
   * reveals no secret. Kept as long as the table is, or its secrets could never be opened.
   */
  readonly secretsKey: IKey;

  constructor(scope: Construct, id: string, props: StoreProps) {
    super(scope, id);
    if (props.existing) {
      // Imported: no resource, only names and ARNs for grants and environment variables.
      // The stack cannot add the dead-letter index to an imported table; it must be there.
      this.table = TableV2.fromTableName(this, "Table", props.existing.tableName);
      this.secretsKey = Key.fromKeyArn(this, "SecretsKey", props.existing.kmsKeyArn);
      return;
    }
    const removalPolicy = props.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    this.table = new TableV2(this, "Table", {
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
      removalPolicy,
    });
    this.secretsKey = new Key(this, "SecretsKey", {
      description: `Seals the signing secrets in the ${props.namePrefix} table`,
      enableKeyRotation: true,
      removalPolicy,
    });
  }

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

  /**
   * Grants exactly these DynamoDB actions on the table, plus the dead-letter index when asked:
   * never `index/*`, never an action the function does not call. Writes can be narrowed
   * further (fine-grained access control): to items whose partition key matches one of
   * `leadingKeys` (IAM wildcards: `*` any characters, `#` included; `?` one), and to the
   * top-level attributes `attributes` names — the key attributes and what the function
   * writes or tests in a condition. A narrowed write may not ask for other attributes back
   * (`ReturnValues` NONE).
   */
  grant(
    grantee: IGrantable,
    actions: readonly string[],
    options: {
      deadLetterIndex?: boolean;
      leadingKeys?: readonly string[];
      attributes?: readonly string[];
    } = {},
  ) {
    const narrowed = options.leadingKeys !== undefined || options.attributes !== undefined;
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: actions.map((action) => `dynamodb:${action}`),
        resources: [
          this.table.tableArn,
          ...(options.deadLetterIndex ? [`${this.table.tableArn}/index/${DEAD_LETTER_INDEX}`] : []),
        ],
        ...(narrowed
          ? {
              conditions: {
                ...(options.leadingKeys
                  ? { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": options.leadingKeys } }
                  : {}),
                ...(options.attributes
                  ? { "ForAllValues:StringEquals": { "dynamodb:Attributes": options.attributes } }
                  : {}),
                StringEqualsIfExists: { "dynamodb:ReturnValues": "NONE" },
              },
            }
          : {}),
      }),
    );
  }
}

/**
 * What the deliver and resend functions may write, as IAM can say it (SECURITY.md, "What each
 * function may write"). Partition keys are `WS#<ws>…` (shared/store/table.ts); workspace and
 * event ids hold no `#`, but an IAM wildcard matches `#` too, so `WS#*#DLV#??` also matches
 * partitions nothing ever reads (`WS#a#EVT#b#DLV#01`): harmless, and the tightest pattern IAM
 * has. A subscription's partition (`WS#<ws>`) cannot be told from any other by a pattern, so
 * the deliver function's updates are narrowed by attribute instead: only the health fields.
 */
export const WRITE_SCOPES = {
  /** Delivery records: `WS#<ws>#DLV#<two-digit shard>`. */
  deliveries: ["WS#*#DLV#??"],
  /** Events: `WS#<ws>#EVT#<eventId>`. */
  events: ["WS#*#EVT#*"],
  /** The endpoint health the deliver function keeps on a subscription, and the key attributes. */
  health: [
    "pk",
    "sk",
    "failingSince",
    "lastFailureAt",
    "recentFailures",
    "recentSince",
    "slowUntil",
    "enabled",
    "disabledReason",
    "disabledAt",
  ],
  /**
   * The service's own events (`webhook.*` ids, which the CRM may not use): raised by the deliver
   * function and the sweep. A CRM event's partition is never among them.
   */
  operationalEvents: ["WS#*#EVT#webhook.*"],
  /** Subscription statistics: `WS#<ws>#STATS#<subscription>`, added to by the deliver function. */
  stats: ["WS#*#STATS#*"],
  /** An event's expiry, which a resend pushes out. */
  eventExpiry: ["pk", "sk", TTL_ATTRIBUTE],
} as const;
