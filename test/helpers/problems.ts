import { expect } from "vitest";
import { AppError } from "../../shared/errors.ts";
import { problemBody } from "../../shared/http/problem.ts";

/** The problem document an API user gets for the error `attempt` rejects with (it must). */
export async function problemOf(attempt: Promise<unknown>) {
  const error = await attempt.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return problemBody(error as AppError);
}
