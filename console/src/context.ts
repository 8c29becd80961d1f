import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { ApiClient, Caller, Capability } from "./api.ts";

export interface ConsoleContext {
  client: ApiClient;
  caller: Caller;
  /** Whether the caller may do this (the API refuses it anyway when not). */
  can: (capability: Capability) => boolean;
  /** An admin key (not a portal session): keys are for it alone. */
  isKey: boolean;
  /** Turns a failed call into a message; a 401 signs out. */
  failure: (error: unknown) => string;
  /** A short message for the live region. */
  notify: (message: string) => void;
}

export const Context = createContext<ConsoleContext | undefined>(undefined);

export function useConsole(): ConsoleContext {
  const context = useContext(Context);
  if (!context) throw new Error("useConsole outside the console");
  return context;
}
