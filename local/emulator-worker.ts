/**
 * Runs the emulators on a worker thread of the local stack's process: dynalite and fauxqs get
 * their own event loop (and, on a machine with two cores, their own core) while the functions
 * keep the main thread. A worker ends with its process, so a killed stack leaves nothing behind
 * holding the data directory's locks.
 */
import { parentPort, workerData } from "node:worker_threads";
import { startEmulators } from "./emulators.ts";

const port = parentPort;
if (!port) throw new Error("emulator-worker.ts runs as a worker thread of local/emulators.ts");
try {
  const emulators = await startEmulators(workerData?.dataDir as string | undefined);
  port.on("message", async (message) => {
    if (message !== "stop") return;
    await emulators.stop();
    port.postMessage({ stopped: true });
    port.close();
  });
  port.postMessage({
    dynamoEndpoint: emulators.dynamoEndpoint,
    sqsEndpoint: emulators.sqsEndpoint,
  });
} catch (error) {
  port.postMessage({ error: (error as Error).message });
}
