import { QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { AttemptErrorClass } from "../domain.ts";
import { LATENCY_BUCKETS, type StatsBucket, type StatsStore } from "../stats.ts";
import { type Item, key, type Table, TTL_ATTRIBUTE, workspaceOf } from "./table.ts";

/** Hours are kept eight days: the longest window asked for is seven. */
const KEEP_SECONDS = 8 * 86_400;

const ERROR_CLASSES: readonly AttemptErrorClass[] = [
  "destination_refused",
  "dns_error",
  "connect_timeout",
  "connection_error",
  "tls_error",
  "timeout",
  "network_error",
  "http_status",
];
const latencyName = (i: number) => `l${String(i).padStart(2, "0")}`;

/**
 * Subscription statistics in the table: `WS#<ws>#STATS#<subscription>`, one item per hour
 * (`2026-11-30T07`), its counters added to by each flush (`ADD`, so concurrent instances sum),
 * flat attributes (`a` attempts, `s` succeeded, `f` failed, `f_<class>`, `l00`…`l14` the
 * latency histogram, `ls`/`lf` the last success and failure), expiring after eight days.
 */
export class DynamoStatsStore implements StatsStore {
  readonly #table: Table;

  constructor(table: Table) {
    this.#table = table;
  }

  async add(bucket: StatsBucket): Promise<void> {
    const adds: string[] = [];
    const sets: string[] = [];
    const values: Record<string, unknown> = {};
    const add = (name: string, value: number) => {
      if (value === 0) return;
      adds.push(`${name} :${name}`);
      values[`:${name}`] = value;
    };
    add("a", bucket.attempts);
    add("s", bucket.succeeded);
    add("f", bucket.failed);
    for (const errorClass of ERROR_CLASSES)
      add(`f_${errorClass}`, bucket.failedByClass[errorClass] ?? 0);
    bucket.latency.forEach((n, i) => {
      add(latencyName(i), n);
    });
    if (bucket.lastSuccessAt) {
      sets.push("ls = :ls");
      values[":ls"] = bucket.lastSuccessAt;
    }
    if (bucket.lastFailureAt) {
      sets.push("lf = :lf");
      values[":lf"] = bucket.lastFailureAt;
    }
    sets.push(`${TTL_ATTRIBUTE} = :exp`);
    values[":exp"] = Math.floor(Date.parse(`${bucket.hour}:00:00Z`) / 1000) + KEEP_SECONDS;
    await this.#table.client.send(
      new UpdateCommand({
        TableName: this.#table.name,
        Key: { pk: key.stats(bucket.workspaceId, bucket.subscriptionId), sk: bucket.hour },
        UpdateExpression: `${adds.length ? `ADD ${adds.join(", ")} ` : ""}SET ${sets.join(", ")}`,
        ExpressionAttributeValues: values,
      }),
    );
  }

  async read(
    workspaceId: string,
    subscriptionId: string,
    fromHour: string,
    toHour: string,
  ): Promise<StatsBucket[]> {
    const items: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.#table.client.send(
        new QueryCommand({
          TableName: this.#table.name,
          KeyConditionExpression: "pk = :pk AND sk BETWEEN :from AND :to",
          ExpressionAttributeValues: {
            ":pk": key.stats(workspaceId, subscriptionId),
            ":from": fromHour,
            ":to": toHour,
          },
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      items.push(...((page.Items ?? []) as Item[]));
      start = page.LastEvaluatedKey;
    } while (start);
    return items.map((item) => ({
      workspaceId: workspaceOf(item.pk as string),
      subscriptionId,
      hour: item.sk as string,
      attempts: Number(item.a ?? 0),
      succeeded: Number(item.s ?? 0),
      failed: Number(item.f ?? 0),
      failedByClass: Object.fromEntries(
        ERROR_CLASSES.filter((c) => item[`f_${c}`] !== undefined).map((c) => [
          c,
          Number(item[`f_${c}`]),
        ]),
      ),
      latency: Array.from({ length: LATENCY_BUCKETS }, (_, i) => Number(item[latencyName(i)] ?? 0)),
      lastSuccessAt: item.ls as string | undefined,
      lastFailureAt: item.lf as string | undefined,
    }));
  }
}
