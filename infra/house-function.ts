import { resolve } from "node:path";
import { type Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import { PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Architecture, Runtime } from "aws-cdk-lib/aws-lambda";
import { type BundlingOptions, NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import type { VpcPlacement } from "./network.ts";

/** Memory of every function unless it asks for more (the cost benchmark prices it). */
export const FUNCTION_MEMORY_MB = 256;

const LAMBDA_CREDENTIALS = resolve(import.meta.dirname, "../shared/lambda-credentials.ts");

/** How every function is bundled (the bundle benchmark builds with the same options). */
export const BUNDLING = {
  format: OutputFormat.ESM,
  target: "node24",
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  mainFields: ["module", "main"],
  // Code the functions never load, left out (~130 KB of the deliver bundle): undici's
  // non-SIMD llhttp, loaded only where WebAssembly SIMD is missing (Lambda's Node.js 24
  // on arm64 has it), and its fetch body extractor, loaded only for FormData request
  // bodies (webhooks are strings); the SDK's event-stream serde, imported dynamically
  // for event-stream operations only (DynamoDB, SQS and KMS have none), and bowser,
  // imported dynamically by the SDK in browsers only. Were any of them ever needed, the
  // import would fail loudly. test/e2e/bundles.test.ts runs every bundle.
  externalModules: [
    "*/llhttp/llhttp-wasm.js",
    "*/web/fetch/body.js",
    "@smithy/core/event-streams",
    "bowser",
  ],
  // Bundled CommonJS dependencies still call require() for Node built-ins.
  banner: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);",
  // Lambda's credentials are always in the environment: see shared/lambda-credentials.ts.
  esbuildArgs: { "--alias:@aws-sdk/credential-provider-node": LAMBDA_CREDENTIALS },
} satisfies BundlingOptions;

export interface HouseFunctionProps {
  /** The handler module, e.g. functions/api/handler.ts. */
  entry: string;
  /** A fixed name, for functions operators invoke by name. */
  functionName?: string;
  description: string;
  environment: Record<string, string>;
  timeout: Duration;
  memorySize?: number;
  logRetention: RetentionDays;
  /** Concurrency set aside for this function, and its ceiling; none by default. */
  reservedConcurrentExecutions?: number | undefined;
  /** Run in these subnets of a VPC (infra/network.ts); Lambda's own network by default. */
  placement?: VpcPlacement | undefined;
}

/**
 * The one way this project builds a Lambda function: Node.js 24 on arm64, an ESM bundle made
 * by esbuild (minified, with source maps, AWS SDK included so its version is ours), an
 * explicit log group with a retention period, and a role of its own that may write to that
 * log group and nothing else until the stack grants more, next to the variable it goes with.
 */
export class HouseFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: HouseFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Instead of the managed AWSLambdaBasicExecutionRole, which may write to any log group.
    const role = new Role(scope, `${id}Role`, {
      assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
      description: `${props.description} (function role)`,
    });
    logGroup.grantWrite(role);
    if (props.placement) {
      // Lambda creates the function's network interfaces with its role, and checks these
      // permissions when the function is created (it depends on this policy). They are what
      // the managed AWSLambdaVPCAccessExecutionRole grants, inline like every other grant here.
      role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: [
            "ec2:CreateNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSubnets",
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses",
          ],
          resources: ["*"],
        }),
      );
      Validations.of(role).acknowledge({
        id: "AwsSolutions-IAM5[Resource::*]",
        reason:
          "The network-interface permissions Lambda needs to run a function in a VPC: EC2's Describe actions take no resource at all, and the interfaces do not exist before Lambda creates them. The same statement as AWS's AWSLambdaVPCAccessExecutionRole, without a managed policy.",
      });
    }
    super(scope, id, {
      entry: props.entry,
      ...(props.functionName ? { functionName: props.functionName } : {}),
      handler: "handler",
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? FUNCTION_MEMORY_MB,
      ...(props.reservedConcurrentExecutions === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
      timeout: props.timeout,
      logGroup,
      role,
      ...(props.placement ?? {}),
      environment: { NODE_OPTIONS: "--enable-source-maps", ...props.environment },
      bundling: BUNDLING,
    });
  }
}
