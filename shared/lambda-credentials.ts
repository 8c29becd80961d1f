import { fromEnv } from "@aws-sdk/credential-provider-env";

/**
 * Stands in for `@aws-sdk/credential-provider-node` in the Lambda bundles (an esbuild alias in
 * infra/house-function.ts). Lambda always hands a function its credentials in environment
 * variables, so the SDK's full chain — SSO, INI files, process, web identity, IMDS, with the
 * STS and SSO clients they bring, ~135 KB minified per function — is dead weight there.
 * Everything else (tests, the CLI, the local stack) keeps the real chain.
 */
export const defaultProvider: typeof fromEnv = (init) => fromEnv(init);
