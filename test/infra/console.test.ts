import { Match } from "aws-cdk-lib/assertions";
import { CachePolicy, OriginRequestPolicy } from "aws-cdk-lib/aws-cloudfront";
import { describe, expect, it } from "vitest";
import { readSettings, SettingsError } from "../../infra/settings.ts";
import { consoleContentSecurityPolicy } from "../../shared/http/console-headers.ts";
import { synth } from "./synth.ts";

/**
 * The web console on AWS (infra/console.ts): a private bucket read only by CloudFront through
 * an origin access control; the API behind the same distribution (`/v1/*`, `/health`) with
 * caching disabled; the security headers on every answer; the optional WAF web ACL.
 */
const { template } = synth();
const US_EAST_1 = { account: "123456789012", region: "us-east-1" };
const ACL_ARN =
  "arn:aws:wafv2:us-east-1:123456789012:global/webacl/crm-edge/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d";

const distribution = (t = template) => {
  const [config, ...more] = Object.values(t.findResources("AWS::CloudFront::Distribution")).map(
    (d) => d.Properties.DistributionConfig,
  );
  expect(more).toHaveLength(0);
  return config;
};
const behavior = (path: string) =>
  distribution().CacheBehaviors.find((b: { PathPattern: string }) => b.PathPattern === path);

describe("the web console on AWS", () => {
  it("keeps its files in a private, encrypted, TLS-only bucket that only this distribution may read", () => {
    const buckets = template.findResources("AWS::S3::Bucket");
    const [bucketId, ...others] = Object.keys(buckets);
    expect(others).toHaveLength(0);
    expect(buckets[bucketId ?? ""]?.Properties).toMatchObject({
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          { ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } },
        ],
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: "BucketOwnerEnforced" }] },
    });
    expect(buckets[bucketId ?? ""]?.Properties.WebsiteConfiguration).toBeUndefined();
    const policy = Object.values(template.findResources("AWS::S3::BucketPolicy"))[0]?.Properties
      .PolicyDocument.Statement as Array<Record<string, unknown>>;
    expect(policy).toContainEqual(
      expect.objectContaining({
        Effect: "Deny",
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      }),
    );
    const allows = policy.filter((s) => s.Effect === "Allow");
    expect(allows).toHaveLength(1);
    expect(allows[0]).toMatchObject({
      Principal: { Service: "cloudfront.amazonaws.com" },
      Action: "s3:GetObject",
      Condition: { StringEquals: { "AWS:SourceArn": expect.anything() } },
    });
    expect(JSON.stringify(allows[0]?.Condition)).toMatch(/Distribution/);
  });

  it("reads the bucket through an origin access control (SigV4), never a public website", () => {
    template.hasResourceProperties("AWS::CloudFront::OriginAccessControl", {
      OriginAccessControlConfig: {
        OriginAccessControlOriginType: "s3",
        SigningBehavior: "always",
        SigningProtocol: "sigv4",
      },
    });
    const s3Origin = distribution().Origins.find(
      (o: { S3OriginConfig?: unknown }) => o.S3OriginConfig,
    );
    expect(s3Origin.OriginAccessControlId).toEqual({
      "Fn::GetAtt": [expect.stringMatching(/OriginAccessControl/), "Id"],
    });
    expect(s3Origin.S3OriginConfig).toEqual({ OriginAccessIdentity: "" });
    expect(distribution().DefaultCacheBehavior).toMatchObject({
      TargetOriginId: s3Origin.Id,
      ViewerProtocolPolicy: "redirect-to-https",
      FunctionAssociations: [Match.objectLike({ EventType: "viewer-request" })].map(() =>
        expect.objectContaining({ EventType: "viewer-request" }),
      ),
    });
  });

  it("routes /v1/* and /health to the HTTP API on the same origin, caching disabled, every viewer header but Host passed on", () => {
    const apiOrigin = distribution().Origins.find(
      (o: { CustomOriginConfig?: unknown }) => o.CustomOriginConfig,
    );
    expect(JSON.stringify(apiOrigin.DomainName)).toMatch(/HttpApi.*execute-api/);
    expect(apiOrigin.CustomOriginConfig).toMatchObject({
      OriginProtocolPolicy: "https-only",
      OriginSSLProtocols: ["TLSv1.2"],
    });
    for (const path of ["/v1/*", "/health"]) {
      expect(behavior(path), path).toMatchObject({
        TargetOriginId: apiOrigin.Id,
        CachePolicyId: CachePolicy.CACHING_DISABLED.cachePolicyId,
        OriginRequestPolicyId:
          OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER.originRequestPolicyId,
        AllowedMethods: ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"],
        ViewerProtocolPolicy: "https-only",
      });
    }
    // The hashed assets are cached for good.
    expect(behavior("/console/assets/*").CachePolicyId).toEqual({
      Ref: expect.stringMatching(/AssetCache/),
    });
    template.hasResourceProperties("AWS::CloudFront::CachePolicy", {
      CachePolicyConfig: Match.objectLike({ MinTTL: 31_536_000 }),
    });
  });

  it("sends a strict Content-Security-Policy, HSTS, nosniff and no referrer; framing per consoleFrameAncestors", () => {
    const policies = Object.values(
      template.findResources("AWS::CloudFront::ResponseHeadersPolicy"),
    );
    expect(policies).toHaveLength(2);
    for (const policy of policies) {
      const security = policy.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig;
      expect(security.ContentSecurityPolicy).toEqual({
        ContentSecurityPolicy: consoleContentSecurityPolicy("'none'"),
        Override: true,
      });
      expect(security.ContentSecurityPolicy.ContentSecurityPolicy).not.toMatch(/unsafe-inline/);
      expect(security.StrictTransportSecurity).toMatchObject({
        AccessControlMaxAgeSec: 63_072_000,
        IncludeSubdomains: true,
        Override: true,
      });
      expect(security.ContentTypeOptions).toEqual({ Override: true });
      expect(security.ReferrerPolicy).toEqual({ ReferrerPolicy: "no-referrer", Override: true });
      expect(security.FrameOptions).toEqual({ FrameOption: "DENY", Override: true });
    }
    // Every behavior carries them.
    const withHeaders = [distribution().DefaultCacheBehavior, ...distribution().CacheBehaviors];
    for (const b of withHeaders) expect(b.ResponseHeadersPolicyId).toBeDefined();

    const embedded = synth({ consoleFrameAncestors: "https://crm.example.com" }).template;
    for (const policy of Object.values(
      embedded.findResources("AWS::CloudFront::ResponseHeadersPolicy"),
    )) {
      const security = policy.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig;
      expect(security.ContentSecurityPolicy.ContentSecurityPolicy).toContain(
        "frame-ancestors https://crm.example.com",
      );
      expect(security.FrameOptions).toBeUndefined();
    }
    expect(() => readSettings((key) => ({ consoleFrameAncestors: "*" })[key])).toThrow(
      /consoleFrameAncestors: '\*' is not a source/,
    );
  });

  it("outputs the console's URL", () => {
    const output = template.findOutputs("ConsoleUrl").ConsoleUrl;
    expect(JSON.stringify(output?.Value)).toMatch(/Distribution.*DomainName.*\/console\//);
  });

  it("has no web ACL unless a setting asks for one", () => {
    template.resourceCountIs("AWS::WAFv2::WebACL", 0);
    expect(distribution().WebACLId).toBeUndefined();
  });
});

describe("the optional WAF web ACL (issue 14: one client can throttle everyone)", () => {
  it("wafRateLimit, in a us-east-1 stack: a CLOUDFRONT web ACL limiting each IP, on the distribution", () => {
    const { template: guarded } = synth({ wafRateLimit: "2000" }, { env: US_EAST_1 });
    guarded.hasResourceProperties("AWS::WAFv2::WebACL", {
      Scope: "CLOUDFRONT",
      DefaultAction: { Allow: {} },
      Rules: [
        Match.objectLike({
          Name: "per-ip-rate",
          Action: { Block: { CustomResponse: { ResponseCode: 429 } } },
          Statement: {
            RateBasedStatement: { Limit: 2000, AggregateKeyType: "IP", EvaluationWindowSec: 300 },
          },
        }),
      ],
    });
    const [aclId] = Object.keys(guarded.findResources("AWS::WAFv2::WebACL"));
    expect(distribution(guarded).WebACLId).toEqual({ "Fn::GetAtt": [aclId, "Arn"] });
  });

  it("passes cdk-nag with the web ACL too", () => {
    const { app } = synth({ wafRateLimit: "2000" }, { env: US_EAST_1, nag: true });
    expect(() => app.synth()).not.toThrow();
  });

  it("refuses wafRateLimit in a stack of another region, or of an unknown one, saying what to do", () => {
    expect(() =>
      synth({ wafRateLimit: "2000" }, { env: { account: "123456789012", region: "eu-west-1" } }),
    ).toThrow(SettingsError);
    expect(() =>
      synth({ wafRateLimit: "2000" }, { env: { account: "123456789012", region: "eu-west-1" } }),
    ).toThrow(/only be created in us-east-1, and this stack is in eu-west-1.*wafWebAclArn/);
    expect(() => synth({ wafRateLimit: "2000" })).toThrow(/region is not known at synth/);
  });

  it("wafWebAclArn attaches an existing CloudFront web ACL, from any region's stack", () => {
    const { template: attached } = synth(
      { wafWebAclArn: ACL_ARN },
      { env: { account: "123456789012", region: "eu-west-1" } },
    );
    attached.resourceCountIs("AWS::WAFv2::WebACL", 0);
    expect(distribution(attached).WebACLId).toBe(ACL_ARN);
    const read = (values: Record<string, unknown>) => () => readSettings((key) => values[key]);
    expect(
      read({
        wafWebAclArn: ACL_ARN.replace("us-east-1", "eu-west-1").replace("global", "regional"),
      }),
    ).toThrow(/wafWebAclArn: must be the ARN of a CloudFront web ACL/);
    expect(read({ wafWebAclArn: ACL_ARN, wafRateLimit: "2000" })).toThrow(
      /choose wafRateLimit .* or wafWebAclArn .*, not both/,
    );
    expect(read({ wafRateLimit: "10" })).toThrow(/wafRateLimit: must be from 100/);
  });
});
