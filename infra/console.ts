import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { DockerImage, Duration, RemovalPolicy, Stack, Token, Validations } from "aws-cdk-lib";
import type { HttpApi } from "aws-cdk-lib/aws-apigatewayv2";
import {
  AllowedMethods,
  type BehaviorOptions,
  CachePolicy,
  Distribution,
  Function as EdgeFunction,
  FunctionCode,
  FunctionEventType,
  FunctionRuntime,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  HttpVersion,
  OriginRequestPolicy,
  PriceClass,
  ResponseHeadersPolicy,
  ViewerProtocolPolicy,
} from "aws-cdk-lib/aws-cloudfront";
import { HttpOrigin, S3BucketOrigin } from "aws-cdk-lib/aws-cloudfront-origins";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from "aws-cdk-lib/aws-s3";
import { BucketDeployment, CacheControl, Source } from "aws-cdk-lib/aws-s3-deployment";
import { Construct } from "constructs";
import { CONSOLE_ROOT } from "../console/build.ts";
import {
  consoleContentSecurityPolicy,
  HSTS_MAX_AGE_SECONDS,
} from "../shared/http/console-headers.ts";

/** The console's hashed assets never change under their name: cache them for a year. */
const IMMUTABLE = "public, max-age=31536000, immutable";

/**
 * The web console on AWS: its build in a private S3 bucket, served by CloudFront through an
 * origin access control, with CloudFront also routing `/v1/*` and `/health` to the HTTP API
 * (caching disabled, every viewer header but Host passed on), so the console and the API share
 * one origin and need no CORS. Every answer carries the security headers
 * (shared/http/console-headers.ts): a strict Content-Security-Policy with `frame-ancestors`
 * from the `consoleFrameAncestors` setting, HSTS, nosniff, no referrer. An optional WAF web ACL
 * (its ARN) guards the distribution.
 */
export class Console extends Construct {
  readonly distribution: Distribution;
  readonly bucket: Bucket;
  readonly url: string;

  constructor(
    scope: Construct,
    id: string,
    props: {
      api: HttpApi;
      frameAncestors: string;
      webAclArn?: string | undefined;
      logRetention: RetentionDays;
    },
  ) {
    super(scope, id);
    const stack = Stack.of(this);

    this.bucket = new Bucket(this, "Assets", {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // It holds only the console's build; kept when the stack is deleted (README: tearing down).
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.bucket).acknowledge({
      id: "AwsSolutions-S1",
      reason:
        "The bucket holds only the console's public build (the same files for everyone), read by CloudFront alone; access logs would record nothing of value. The API's requests are logged by API Gateway's access logs.",
    });

    // Built by `cdk synth` with Vite (console/build.ts), no Docker.
    const build = Source.asset(CONSOLE_ROOT, {
      exclude: ["dist", ".build*", "node_modules"],
      bundling: {
        image: DockerImage.fromRegistry("none"),
        local: {
          tryBundle(outputDir: string) {
            execFileSync(process.execPath, [join(CONSOLE_ROOT, "build.ts"), "--out", outputDir], {
              stdio: "inherit",
            });
            return true;
          },
        },
      },
    });
    // The copying function's own role, with its own log group: inline policies only.
    const deployRole = new Role(this, "DeployRole", {
      assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
      description: "Copies the web console's build into its bucket at deploy time",
    });
    const deployLogs = new LogGroup(this, "DeployLogs", {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    deployLogs.grantWrite(deployRole);
    const deployment = new BucketDeployment(this, "Deploy", {
      sources: [build],
      destinationBucket: this.bucket,
      destinationKeyPrefix: "console/",
      // The page is checked on every load; the assets' own behavior says they are immutable.
      cacheControl: [CacheControl.fromString("no-cache")],
      role: deployRole,
      logGroup: deployLogs,
      memoryLimit: 256,
    });
    // What CDK's BucketDeployment grants its copying function: read the build from the CDK
    // asset bucket, write the console's prefix of this bucket. Wildcards within those, no more.
    const deployGrants: Array<[string, string]> = [
      ["Action::s3:GetObject*", "reads the build's zip from the CDK asset bucket"],
      ["Action::s3:GetBucket*", "reads the buckets' locations and settings"],
      ["Action::s3:List*", "lists what is in the console's bucket, to replace it"],
      ["Action::s3:DeleteObject*", "removes files of the previous build from the console's bucket"],
      ["Action::s3:Abort*", "aborts its own failed multipart uploads"],
      [
        `Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-${known(stack.account, "<AWS::AccountId>")}-${known(stack.region, "<AWS::Region>")}/*`,
        "the CDK asset bucket's objects: the build's zip is one of them",
      ],
      ["Resource::<ConsoleAssets8400950A.Arn>/*", "the console's own bucket, nothing else"],
    ];
    for (const [finding, why] of deployGrants) {
      Validations.of(deployRole).acknowledge({
        id: `AwsSolutions-IAM5[${finding}]`,
        reason: `CDK's BucketDeployment copying the web console at deploy time: ${why}.`,
      });
    }
    // The copying function itself is a singleton at the stack's root.
    const copier = stack.node.children.find((child) =>
      child.node.id.startsWith("Custom::CDKBucketDeployment"),
    );
    if (copier) {
      Validations.of(copier).acknowledge({
        id: "AwsSolutions-L1",
        reason:
          "CDK's BucketDeployment handler (Python, on the runtime the CDK version pins): it runs only while deploying, to copy the console's files.",
      });
    }
    void deployment;

    const security = new ResponseHeadersPolicy(this, "SecurityHeaders", {
      comment: "Web console and API: CSP, HSTS, nosniff, no referrer",
      securityHeadersBehavior: securityHeaders(props.frameAncestors),
    });
    const immutableAssets = new ResponseHeadersPolicy(this, "AssetHeaders", {
      comment: "Web console assets: the security headers, cached for good",
      securityHeadersBehavior: securityHeaders(props.frameAncestors),
      customHeadersBehavior: {
        customHeaders: [{ header: "Cache-Control", value: IMMUTABLE, override: true }],
      },
    });
    const assetCache = new CachePolicy(this, "AssetCache", {
      comment: "Web console assets: content-hashed names, kept a year",
      minTtl: Duration.days(365),
      defaultTtl: Duration.days(365),
      maxTtl: Duration.days(365),
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });
    // `/` goes to the console; `/console` and `/console/` are its page.
    const paths = new EdgeFunction(this, "Paths", {
      runtime: FunctionRuntime.JS_2_0,
      comment: "Web console: / redirects to /console/, which is index.html",
      code: FunctionCode.fromInline(CONSOLE_PATHS_FUNCTION),
    });

    const site = S3BucketOrigin.withOriginAccessControl(this.bucket);
    const api: BehaviorOptions = {
      origin: new HttpOrigin(`${props.api.apiId}.execute-api.${stack.region}.${stack.urlSuffix}`),
      viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
      allowedMethods: AllowedMethods.ALLOW_ALL,
      cachePolicy: CachePolicy.CACHING_DISABLED,
      originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      responseHeadersPolicy: security,
      compress: false,
    };
    this.distribution = new Distribution(this, "Distribution", {
      comment: `${stack.stackName}: web console and API`,
      defaultBehavior: {
        origin: site,
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: security,
        functionAssociations: [{ function: paths, eventType: FunctionEventType.VIEWER_REQUEST }],
      },
      additionalBehaviors: {
        "/v1/*": api,
        "/health": api,
        "/console/assets/*": {
          origin: site,
          viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
          allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
          cachePolicy: assetCache,
          responseHeadersPolicy: immutableAssets,
        },
      },
      httpVersion: HttpVersion.HTTP2_AND_3,
      priceClass: PriceClass.PRICE_CLASS_100,
      ...(props.webAclArn ? { webAclId: props.webAclArn } : {}),
    });
    this.url = `https://${this.distribution.distributionDomainName}/console/`;

    Validations.of(this.distribution).acknowledge({
      id: "AwsSolutions-CFR1",
      reason:
        "The console and the API serve their customers wherever they are; no geo restriction.",
    });
    Validations.of(this.distribution).acknowledge({
      id: "AwsSolutions-CFR3",
      reason:
        "API requests are logged by API Gateway's access logs whichever way they come; the console's files are the same public build for everyone.",
    });
    Validations.of(this.distribution).acknowledge({
      id: "AwsSolutions-CFR4",
      reason:
        "The distribution uses CloudFront's default *.cloudfront.net certificate, whose TLS policy CloudFront sets; a custom domain (outside this stack) sets TLSv1.2_2021.",
    });
    if (!props.webAclArn) {
      Validations.of(this.distribution).acknowledge({
        id: "AwsSolutions-CFR2",
        reason:
          "The WAF web ACL is optional and costs money (README: wafRateLimit, wafWebAclArn); without it the API Gateway's throttling is the limit.",
      });
    }
  }
}

/** A stack attribute as cdk-nag prints it: the value when known at synth, else its token. */
const known = (value: string, token: string) => (Token.isUnresolved(value) ? token : value);

function securityHeaders(frameAncestors: string) {
  return {
    contentSecurityPolicy: {
      contentSecurityPolicy: consoleContentSecurityPolicy(frameAncestors),
      override: true,
    },
    strictTransportSecurity: {
      accessControlMaxAge: Duration.seconds(HSTS_MAX_AGE_SECONDS),
      includeSubdomains: true,
      override: true,
    },
    contentTypeOptions: { override: true },
    referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.NO_REFERRER, override: true },
    // frame-ancestors decides framing; the legacy header only where nobody may frame it.
    ...(frameAncestors === "'none'"
      ? { frameOptions: { frameOption: HeadersFrameOption.DENY, override: true } }
      : {}),
  };
}

/** CloudFront Function (viewer request) of the default behavior. */
export const CONSOLE_PATHS_FUNCTION = `function handler(event) {
  var request = event.request;
  if (request.uri === "/") {
    return { statusCode: 302, statusDescription: "Found", headers: { location: { value: "/console/" } } };
  }
  if (request.uri === "/console" || request.uri === "/console/") {
    request.uri = "/console/index.html";
  }
  return request;
}`;
