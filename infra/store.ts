import { RemovalPolicy } from "aws-cdk-lib";
import { AttributeType, Billing, TableEncryptionV2, TableV2 } from "aws-cdk-lib/aws-dynamodb";
import { Construct } from "constructs";
import { TTL_ATTRIBUTE } from "../shared/store/table.ts";

/**
 * The single table (see shared/store/table.ts for its layout). On-demand, point-in-time
 * recovery, TTL on `expiresAt`, and kept when the stack is deleted unless told otherwise.
 * No secondary indexes: each would double the write units of every delivery.
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
      deletionProtection: props.retainData,
      removalPolicy: props.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
  }
}
