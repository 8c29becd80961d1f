/**
 * The sample receiver (`npm run receiver`, bin/receiver.ts) says on every answer to a delivery
 * what it checked: `verified` (both signatures, with its --secret), `unsigned` (started without
 * a secret) or `rejected` (a signature did not verify: 401). The answer's headers are recorded
 * with the attempt, so `npm run smoke` can read the verdict back from the delivery.
 */
export const SAMPLE_RECEIVER_HEADER = "x-sample-receiver";
export type SampleReceiverVerdict = "verified" | "unsigned" | "rejected";
