import type { ApiKey } from "../domain.ts";
import { ForbiddenError, UnauthorizedError } from "../errors.ts";
import type { Role } from "../keys.ts";

/** 401 for an unknown or revoked key, 403 for a key whose role may not use the route. */
export function authorize(key: ApiKey | undefined, allowed: readonly Role[]): ApiKey {
  if (!key || key.revokedAt) throw new UnauthorizedError("The API key is not valid.");
  if (!allowed.includes(key.role)) {
    throw new ForbiddenError(
      key.role === "ingest"
        ? "An ingest key may only post events (POST /v1/events) and read the egress IPs; use an admin key."
        : `This route needs one of these roles: ${allowed.join(", ")}.`,
    );
  }
  return key;
}
