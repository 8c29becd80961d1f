import { RemovalPolicy, Validations } from "aws-cdk-lib";
import {
  type CfnStage,
  HttpApi,
  HttpMethod,
  HttpRoute,
  HttpRouteKey,
} from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { ROUTE_KEYS } from "../shared/http/routes.ts";

/**
 * The HTTP API: one route per entry of shared/http/routes.ts (so metrics and throttling are
 * per route), plus `$default` so unknown paths still get a problem+json 404/405 from the
 * function. Stage throttling and JSON access logs are on.
 */
export class Api extends Construct {
  readonly httpApi: HttpApi;

  constructor(
    scope: Construct,
    id: string,
    props: {
      name: string;
      handler: IFunction;
      rateLimit: number;
      burstLimit: number;
      logRetention: RetentionDays;
    },
  ) {
    super(scope, id);
    const integration = new HttpLambdaIntegration("Api", props.handler);
    this.httpApi = new HttpApi(this, "HttpApi", { apiName: props.name, createDefaultStage: true });
    for (const routeKey of ROUTE_KEYS) {
      const [method, path] = routeKey.split(" ") as [keyof typeof HttpMethod, string];
      new HttpRoute(this, routeKey.replace(/[^A-Za-z0-9]/g, ""), {
        httpApi: this.httpApi,
        routeKey: HttpRouteKey.with(path, HttpMethod[method]),
        integration,
      });
    }
    new HttpRoute(this, "Default", {
      httpApi: this.httpApi,
      routeKey: HttpRouteKey.DEFAULT,
      integration,
    });
    Validations.of(this).acknowledge({
      id: "AwsSolutions-APIG4",
      reason:
        "Every route but /health authenticates in the API function against hashed keys in the table (one read, shared on ingest with loading the subscriptions). An API Gateway authorizer would add an invocation and a read to every request, against the cost budget.",
    });

    const accessLogs = new LogGroup(this, "AccessLogs", {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const stage = this.httpApi.defaultStage?.node.defaultChild as CfnStage;
    stage.accessLogSettings = {
      destinationArn: accessLogs.logGroupArn,
      format: JSON.stringify({
        requestId: "$context.requestId",
        ip: "$context.identity.sourceIp",
        time: "$context.requestTime",
        routeKey: "$context.routeKey",
        status: "$context.status",
        latencyMs: "$context.responseLatency",
        integrationError: "$context.integrationErrorMessage",
      }),
    };
    stage.defaultRouteSettings = {
      throttlingRateLimit: props.rateLimit,
      throttlingBurstLimit: props.burstLimit,
    };
  }
}
