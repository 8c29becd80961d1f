import { Fn, RemovalPolicy, Stack } from "aws-cdk-lib";
import {
  CfnEIP,
  FlowLogDestination,
  FlowLogTrafficType,
  GatewayVpcEndpointAwsService,
  type IVpc,
  NatProvider,
  SecurityGroup,
  Subnet,
  type SubnetSelection,
  SubnetType,
  Vpc,
} from "aws-cdk-lib/aws-ec2";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { SettingsError } from "./settings.ts";

/** Where a function runs when it runs in a VPC: what HouseFunction passes to Lambda. */
export interface VpcPlacement {
  vpc: IVpc;
  vpcSubnets: SubnetSelection;
  securityGroups: SecurityGroup[];
}

export type NetworkProps = {
  namePrefix: string;
  logRetention: RetentionDays;
} & (
  | {
      /** A VPC of the stack's own across this many availability zones (1–3). */
      azs: number;
    }
  | {
      /** An existing VPC, its private subnets, and the public IPs their NAT sends from. */
      vpcId: string;
      privateSubnetIds: readonly string[];
      egressIps: readonly string[];
    }
);

/**
 * The VPC option: the deliver function in private subnets, so deliveries leave from fixed
 * public IPs customers can allow-list, and can reach private ranges (`allowedCidrs`) that the
 * VPC routes to. Either a VPC the stack creates — private subnets, one NAT gateway with an
 * Elastic IP per availability zone (so an AZ outage does not cut the others off), a free
 * DynamoDB gateway endpoint so table traffic skips the NAT's per-GB charge, and flow logs — or
 * private subnets of an existing VPC, whose egress IPs the operator states. Either way the
 * function gets a security group of its own that allows no inbound traffic at all.
 */
export class Network extends Construct {
  readonly placement: VpcPlacement;
  /** The public IPs deliveries leave from: Elastic IP tokens, or the stated addresses. */
  readonly egressIps: readonly string[];
  /** Set when the stack created the VPC. */
  readonly createdVpc?: Vpc;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    let vpc: IVpc;
    let vpcSubnets: SubnetSelection;
    if ("vpcId" in props) {
      // No lookup (which needs AWS at synth): Lambda's VpcConfig takes only the subnet ids and
      // the security group. The zones are the region's; nothing here places by zone.
      vpc = Vpc.fromVpcAttributes(this, "Vpc", {
        vpcId: props.vpcId,
        availabilityZones: Fn.getAzs(),
      });
      vpcSubnets = {
        subnets: props.privateSubnetIds.map((subnetId) =>
          Subnet.fromSubnetId(this, subnetId, subnetId),
        ),
      };
      this.egressIps = [...props.egressIps];
    } else {
      const zones = Stack.of(this).availabilityZones;
      if (zones.length < props.azs) {
        // An environment-agnostic synth (no account and region) sees two zones, and CDK would
        // quietly build fewer NAT gateways than asked.
        throw new SettingsError(
          `Invalid deployment settings (CDK context):\n  vpcAzs: ${props.azs} asked, but this synth sees ${zones.length} availability zones; synthesize with an account and region (AWS credentials, as \`npm run deploy\` does) or ask for fewer.`,
        );
      }
      // Our own Elastic IPs, handed to the NAT gateways, so the stack can publish them.
      const ips = Array.from(
        { length: props.azs },
        (_, i) =>
          new CfnEIP(this, `EgressIp${i + 1}`, {
            domain: "vpc",
            tags: [{ key: "Name", value: `${props.namePrefix}-egress-${i + 1}` }],
          }),
      );
      const created = new Vpc(this, "Vpc", {
        vpcName: props.namePrefix,
        maxAzs: props.azs,
        natGateways: props.azs,
        natGatewayProvider: NatProvider.gateway({
          eipAllocationIds: ips.map((ip) => ip.attrAllocationId),
        }),
        subnetConfiguration: [
          // The NAT gateways only: nothing of ours runs in a public subnet.
          { name: "public", subnetType: SubnetType.PUBLIC, cidrMask: 24 },
          { name: "deliver", subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
        ],
        // Nothing uses the default security group; locking it down would take a custom
        // resource (another Lambda function) for no gain.
        restrictDefaultSecurityGroup: false,
      });
      created.addGatewayEndpoint("DynamoDb", { service: GatewayVpcEndpointAwsService.DYNAMODB });
      // Which destinations deliveries actually connected to: the network's record of what the
      // SSRF guard allowed. One record per connection and interval, a few cents a month.
      created.addFlowLog("FlowLog", {
        trafficType: FlowLogTrafficType.ALL,
        destination: FlowLogDestination.toCloudWatchLogs(
          new LogGroup(this, "FlowLogs", {
            retention: props.logRetention,
            removalPolicy: RemovalPolicy.DESTROY,
          }),
        ),
      });
      vpc = created;
      vpcSubnets = { subnetType: SubnetType.PRIVATE_WITH_EGRESS };
      this.egressIps = ips.map((ip) => ip.attrPublicIp);
      this.createdVpc = created;
    }
    const securityGroup = new SecurityGroup(this, "DeliverSecurityGroup", {
      vpc,
      description: `${props.namePrefix} deliver function: outbound only (receivers, AWS APIs)`,
      // Receivers may listen on any port (https://host:8443); the SSRF guard decides where.
      allowAllOutbound: true,
    });
    this.placement = { vpc, vpcSubnets, securityGroups: [securityGroup] };
  }
}
