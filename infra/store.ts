import { RemovalPolicy } from "aws-cdk-lib";
import {
  AttributeType,
  Billing,
  ProjectionType,
  TableEncryptionV2,
  TableV2,
} from "aws-cdk-lib/aws-dynamodb";
import { type IGrantable, PolicyStatement } from "aws-cdk-lib/aws-iam";
import { Construct } from "constructs";
import { DEAD_LETTER_INDEX, DEAD_LETTER_PROJECTION, TTL_ATTRIBUTE } from "../shared/store/table.ts";

/**
 * The single table (see shared/store/table.ts for its layout). On-demand, point-in-time
 * recovery, TTL on `expiresAt`, and kept when the stack is deleted unless told otherwise.
 * One sparse index of dead letters: only failed (or being resent) deliveries are in it, so
 * a delivery that succeeds never pays for it.
 */
export class Store extends Construct {
  readonly table: TableV2;

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
  }

  /**
   * Grants exactly these DynamoDB actions on the table, plus the dead-letter index when asked:
   * never `index/*`, never an action the function does not call.
   */
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
