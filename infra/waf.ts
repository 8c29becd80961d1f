import { CfnWebACL } from "aws-cdk-lib/aws-wafv2";
import { Construct } from "constructs";

/** The window a WAF rate-based rule counts requests over: five minutes. */
export const WAF_WINDOW_SECONDS = 300;

/**
 * An AWS WAF web ACL for the CloudFront distribution (scope CLOUDFRONT, so it must be created
 * in us-east-1) with one rule: a client IP that sends more than `rateLimit` requests in five
 * minutes gets 429 until its rate falls back under the limit. Everything else is allowed.
 */
export class RateLimitAcl extends Construct {
  readonly arn: string;

  constructor(scope: Construct, id: string, props: { namePrefix: string; rateLimit: number }) {
    super(scope, id);
    const visibility = (metricName: string) => ({
      cloudWatchMetricsEnabled: true,
      sampledRequestsEnabled: true,
      metricName,
    });
    const acl = new CfnWebACL(this, "WebAcl", {
      name: `${props.namePrefix}-edge`,
      // WAF descriptions allow letters, digits, spaces and few signs (no parentheses).
      description: "Per-IP rate limit in front of the web console and the API, on CloudFront",
      scope: "CLOUDFRONT",
      defaultAction: { allow: {} },
      visibilityConfig: visibility(`${props.namePrefix}-edge`),
      rules: [
        {
          name: "per-ip-rate",
          priority: 0,
          action: { block: { customResponse: { responseCode: 429 } } },
          statement: {
            rateBasedStatement: {
              limit: props.rateLimit,
              aggregateKeyType: "IP",
              evaluationWindowSec: WAF_WINDOW_SECONDS,
            },
          },
          visibilityConfig: visibility(`${props.namePrefix}-per-ip-rate`),
        },
      ],
    });
    this.arn = acl.attrArn;
  }
}
