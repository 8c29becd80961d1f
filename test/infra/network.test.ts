import { Match, type Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { SettingsError } from "../../infra/settings.ts";
import { render, synth } from "./synth.ts";

const EXISTING = {
  vpcId: "vpc-0123456789abcdef0",
  privateSubnetIds: "subnet-0aaaaaaaaaaaaaaaa,subnet-0bbbbbbbbbbbbbbbb",
  egressIps: "203.0.113.10,203.0.113.11",
};

const functions = (template: Template) => {
  const all = template.findResources("AWS::Lambda::Function");
  const find = (description: RegExp) => {
    const entry = Object.entries(all).find(([, fn]) => description.test(fn.Properties.Description));
    if (!entry) throw new Error(`no function described ${description}`);
    return { id: entry[0], properties: entry[1].Properties };
  };
  return { api: find(/HTTP API/), deliver: find(/delivery/), resend: find(/resend/) };
};

const idsOf = (template: Template, type: string, props: Record<string, unknown> = {}) =>
  Object.keys(template.findResources(type, { Properties: props })).sort();

describe("the VPC option: a new VPC", () => {
  const { template } = synth({ createVpc: "true" });
  const { api, deliver, resend } = functions(template);
  const ips = idsOf(template, "AWS::EC2::EIP");
  const joinedIps = ips.map((id) => `\${${id}.PublicIp}`).join(",");

  it("runs the deliver function, and only it, in the private subnets", () => {
    const privateSubnets = idsOf(template, "AWS::EC2::Subnet", { MapPublicIpOnLaunch: false });
    expect(privateSubnets).toHaveLength(2);
    const [group, ...moreGroups] = idsOf(template, "AWS::EC2::SecurityGroup");
    expect(moreGroups).toEqual([]);
    expect(deliver.properties.VpcConfig).toEqual({
      SubnetIds: privateSubnets.map((id) => ({ Ref: id })),
      SecurityGroupIds: [{ "Fn::GetAtt": [group, "GroupId"] }],
    });
    expect(api.properties.VpcConfig).toBeUndefined();
    expect(resend.properties.VpcConfig).toBeUndefined();
  });

  it("leaves through one NAT gateway per zone, each with an Elastic IP of the stack's", () => {
    expect(ips).toHaveLength(2);
    const gateways = Object.values(template.findResources("AWS::EC2::NatGateway"));
    expect(gateways.map((g) => g.Properties.AllocationId["Fn::GetAtt"]).sort()).toEqual(
      ips.map((id) => [id, "AllocationId"]),
    );
    // Each private subnet routes to the internet through a NAT gateway.
    template.resourcePropertiesCountIs(
      "AWS::EC2::Route",
      { DestinationCidrBlock: "0.0.0.0/0", NatGatewayId: Match.anyValue() },
      2,
    );
    const one = synth({ createVpc: "true", vpcAzs: "1" }).template;
    one.resourceCountIs("AWS::EC2::NatGateway", 1);
    one.resourceCountIs("AWS::EC2::EIP", 1);
  });

  it("can span three zones when the synth knows the region's zones", () => {
    const env = { account: "123456789012", region: "us-east-1" };
    const { template: three } = synth(
      { createVpc: "true", vpcAzs: "3" },
      {
        env,
        appContext: {
          "availability-zones:account=123456789012:region=us-east-1": [
            "us-east-1a",
            "us-east-1b",
            "us-east-1c",
          ],
        },
      },
    );
    three.resourceCountIs("AWS::EC2::NatGateway", 3);
    three.resourceCountIs("AWS::EC2::EIP", 3);
    // An environment-agnostic synth sees two zones: refused rather than quietly fewer gateways.
    expect(() => synth({ createVpc: "true", vpcAzs: "3" })).toThrow(SettingsError);
    expect(() => synth({ createVpc: "true", vpcAzs: "3" })).toThrow(
      /vpcAzs: 3 asked, but this synth sees 2 availability zones/,
    );
  });

  it("publishes the egress IPs: a stack output, and the API function's environment", () => {
    expect(render(template.findOutputs("EgressIps").EgressIps?.Value)).toBe(joinedIps);
    template.hasOutput("VpcId", { Value: { Ref: idsOf(template, "AWS::EC2::VPC")[0] } });
    expect(render(api.properties.Environment.Variables.WEBHOOKS_EGRESS_IPS)).toBe(joinedIps);
    expect(deliver.properties.Environment.Variables).not.toHaveProperty("WEBHOOKS_EGRESS_IPS");
    expect(resend.properties.Environment.Variables).not.toHaveProperty("WEBHOOKS_EGRESS_IPS");
  });

  it("lets nothing in: the security group has no ingress rule", () => {
    const [group] = Object.values(template.findResources("AWS::EC2::SecurityGroup"));
    expect(group?.Properties.SecurityGroupIngress).toBeUndefined();
    expect(group?.Properties.SecurityGroupEgress).toEqual([
      expect.objectContaining({ CidrIp: "0.0.0.0/0", IpProtocol: "-1" }),
    ]);
    template.resourceCountIs("AWS::EC2::SecurityGroupIngress", 0);
  });

  it("keeps table traffic off the NAT and logs the VPC's flows", () => {
    template.hasResourceProperties("AWS::EC2::VPCEndpoint", {
      ServiceName: { "Fn::Join": ["", Match.arrayWith([".dynamodb"])] },
      VpcEndpointType: "Gateway",
    });
    template.hasResourceProperties("AWS::EC2::FlowLog", {
      ResourceType: "VPC",
      TrafficType: "ALL",
      LogDestinationType: "cloud-watch-logs",
    });
  });

  it("lets only the deliver role manage network interfaces, as Lambda needs in a VPC", () => {
    const withEc2 = Object.values(template.findResources("AWS::IAM::Policy"))
      .filter((policy) =>
        JSON.stringify(policy.Properties.PolicyDocument).includes("ec2:CreateNetworkInterface"),
      )
      .map((policy) => policy.Properties.Roles[0].Ref);
    expect(withEc2).toEqual([deliver.properties.Role["Fn::GetAtt"][0]]);
    // The acknowledged wildcard covers those actions and nothing else.
    const wildcards = Object.values(template.findResources("AWS::IAM::Policy"))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
      .filter((statement: { Resource: unknown }) => [statement.Resource].flat().includes("*"));
    expect(wildcards).toEqual([
      {
        Effect: "Allow",
        Resource: "*",
        Action: [
          "ec2:CreateNetworkInterface",
          "ec2:DescribeNetworkInterfaces",
          "ec2:DescribeSubnets",
          "ec2:DeleteNetworkInterface",
          "ec2:AssignPrivateIpAddresses",
          "ec2:UnassignPrivateIpAddresses",
        ],
      },
    ]);
    template.resourceCountIs("AWS::IAM::ManagedPolicy", 0);
    // Lambda checks the permissions when it creates the function: the policy must come first.
    const deliverResource = template.findResources("AWS::Lambda::Function")[deliver.id];
    expect(deliverResource?.DependsOn).toEqual(
      expect.arrayContaining([expect.stringMatching(/^DeliverFunctionRoleDefaultPolicy/)]),
    );
  });

  it("passes cdk-nag's AWS Solutions rules", () => {
    const { app } = synth({ createVpc: "true" }, { nag: true });
    expect(() => app.synth()).not.toThrow();
  });
});

describe("the VPC option: an existing VPC", () => {
  const { template } = synth({ ...EXISTING, allowedCidrs: "10.20.0.0/16" });
  const { api, deliver, resend } = functions(template);

  it("runs the deliver function in the given subnets, creating no network of its own", () => {
    expect(deliver.properties.VpcConfig).toEqual({
      SubnetIds: ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
      SecurityGroupIds: [
        { "Fn::GetAtt": [expect.stringMatching(/^NetworkDeliverSecurityGroup/), "GroupId"] },
      ],
    });
    template.hasResourceProperties("AWS::EC2::SecurityGroup", {
      VpcId: "vpc-0123456789abcdef0",
      SecurityGroupIngress: Match.absent(),
    });
    for (const type of ["AWS::EC2::VPC", "AWS::EC2::NatGateway", "AWS::EC2::EIP"]) {
      template.resourceCountIs(type, 0);
    }
    expect(api.properties.VpcConfig).toBeUndefined();
    expect(resend.properties.VpcConfig).toBeUndefined();
    expect(deliver.properties.Environment.Variables.WEBHOOKS_ALLOWED_CIDRS).toBe("10.20.0.0/16");
  });

  it("publishes the egress IPs the operator stated", () => {
    template.hasOutput("EgressIps", { Value: "203.0.113.10,203.0.113.11" });
    expect(Object.keys(template.findOutputs("VpcId"))).toEqual([]);
    expect(api.properties.Environment.Variables.WEBHOOKS_EGRESS_IPS).toBe(
      "203.0.113.10,203.0.113.11",
    );
  });

  it("passes cdk-nag's AWS Solutions rules", () => {
    const { app } = synth(EXISTING, { nag: true });
    expect(() => app.synth()).not.toThrow();
  });
});

describe("without the VPC option", () => {
  const { template } = synth();

  it("runs on Lambda's own network, with no egress IPs to publish", () => {
    for (const fn of Object.values(template.findResources("AWS::Lambda::Function"))) {
      expect(fn.Properties.VpcConfig).toBeUndefined();
      expect(fn.Properties.Environment.Variables).not.toHaveProperty("WEBHOOKS_EGRESS_IPS");
    }
    expect(Object.keys(template.findOutputs("EgressIps"))).toEqual([]);
    template.resourceCountIs("AWS::EC2::VPC", 0);
  });

  it("refuses allowedCidrs at synth, saying why", () => {
    const attempt = () => synth({ allowedCidrs: "10.20.0.0/16" });
    expect(attempt).toThrow(SettingsError);
    expect(attempt).toThrow(
      /allowedCidrs: private ranges can only be reached from inside a VPC, and without one the deliver function runs on Lambda's own network with no route to them\. Set createVpc=true, or vpcId/,
    );
    expect(() => synth({ allowedCidrs: "10.20.0.0/16", createVpc: "true" })).not.toThrow();
  });

  it("refuses half an option, naming each missing or extra setting", () => {
    expect(() => synth({ vpcId: EXISTING.vpcId })).toThrow(
      /privateSubnetIds: required with vpcId[\s\S]*egressIps: required with vpcId/,
    );
    expect(() => synth({ ...EXISTING, createVpc: "true" })).toThrow(/vpcId: choose createVpc=true/);
    expect(() => synth({ vpcAzs: "2" })).toThrow(/vpcAzs: only with createVpc=true/);
    expect(() => synth({ egressIps: "203.0.113.10" })).toThrow(/egressIps: only with vpcId/);
    expect(() => synth({ privateSubnetIds: "subnet-0aaaaaaaaaaaaaaaa" })).toThrow(
      /privateSubnetIds: only with vpcId/,
    );
    expect(() =>
      synth({ vpcId: "vpc-1", privateSubnetIds: "sub-1", egressIps: "10.0.0.0/8", vpcAzs: "4" }),
    ).toThrow(
      /vpcAzs[\s\S]*vpcId: must be a VPC id[\s\S]*privateSubnetIds: 'sub-1' is not an id[\s\S]*egressIps: '10.0.0.0\/8' is not an IP address/,
    );
  });
});
