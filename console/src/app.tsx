import { useCallback, useEffect, useId, useMemo, useState } from "preact/hooks";
import {
  type Caller,
  type Capability,
  clientFor,
  describeError,
  type EventType,
  isUnauthorized,
  type Subscription,
} from "./api.ts";
import {
  clearCredential,
  loadCredential,
  saveCredential,
  takeSessionFromFragment,
} from "./auth.ts";
import { Alert } from "./components.tsx";
import { type ConsoleContext, Context } from "./context.ts";
import { when } from "./format.ts";
import { DeliveriesScreen } from "./screens/deliveries.tsx";
import { DeliveryScreen } from "./screens/delivery.tsx";
import { FailedScreen } from "./screens/failed.tsx";
import { KeysScreen } from "./screens/keys.tsx";
import { SubscriptionsScreen } from "./screens/subscriptions.tsx";

type Route =
  | { screen: "subscriptions" }
  | { screen: "deliveries" }
  | { screen: "delivery"; id: string }
  | { screen: "failed" }
  | { screen: "keys" };

function parseRoute(hash: string): Route {
  const [, screen = "", id] = hash.replace(/^#/, "").split("/");
  if (screen === "deliveries" && id) return { screen: "delivery", id: decodeURIComponent(id) };
  if (screen === "deliveries" || screen === "failed" || screen === "keys") return { screen };
  return { screen: "subscriptions" };
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const update = () => {
      setRoute(parseRoute(window.location.hash));
      document.getElementById("main")?.focus();
    };
    window.addEventListener("hashchange", update);
    return () => window.removeEventListener("hashchange", update);
  }, []);
  return route;
}

export function App() {
  const [token, setToken] = useState<string | undefined>(() => {
    const fromFragment = takeSessionFromFragment();
    if (fromFragment) {
      saveCredential(fromFragment);
      return fromFragment;
    }
    return loadCredential();
  });
  const [caller, setCaller] = useState<Caller>();
  const [signInError, setSignInError] = useState<string>();

  const signOut = useCallback((message?: string) => {
    clearCredential();
    setToken(undefined);
    setCaller(undefined);
    setSignInError(message);
  }, []);

  useEffect(() => {
    if (!token) return;
    let current = true;
    clientFor(token)
      .call("GET /v1/whoami")
      .then((who) => current && setCaller(who))
      .catch((error) => current && signOut(describeError(error)));
    return () => {
      current = false;
    };
  }, [token, signOut]);

  if (!token || !caller) {
    return (
      <SignIn
        checking={token !== undefined}
        error={signInError}
        onSignIn={(value) => {
          setSignInError(undefined);
          saveCredential(value);
          setToken(value);
        }}
      />
    );
  }
  return <Console token={token} caller={caller} signOut={signOut} />;
}

function SignIn(props: {
  checking: boolean;
  error: string | undefined;
  onSignIn: (token: string) => void;
}) {
  const [value, setValue] = useState("");
  const id = useId();
  return (
    <main id="main" class="sign-in">
      <h1>Customermates Webhooks</h1>
      <p>Sign in with an admin key of your workspace. It is kept for this tab only.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const token = value.trim();
          if (token) props.onSignIn(token);
        }}
      >
        <div class="field">
          <label for={`${id}-key`}>Admin key</label>
          <input
            id={`${id}-key`}
            type="password"
            class="mono"
            autocomplete="off"
            spellcheck={false}
            placeholder="whk_…"
            value={value}
            onInput={(e) => setValue(e.currentTarget.value)}
          />
        </div>
        <Alert message={props.error} />
        <button type="submit" class="primary" disabled={props.checking}>
          {props.checking ? "Signing in…" : "Sign in"}
        </button>
      </form>
      <p class="muted small">
        Embedded in another application? It opens this console with a portal session (
        <code>/console#session=…</code>); ask it for a new one when yours has ended.
      </p>
    </main>
  );
}

function Console(props: { token: string; caller: Caller; signOut: (message?: string) => void }) {
  const { caller, signOut } = props;
  const route = useRoute();
  const [notice, setNotice] = useState("");
  // A notice stays a few seconds, then the live region empties.
  useEffect(() => {
    if (!notice) return;
    const timer = setTimeout(() => setNotice(""), 6000);
    return () => clearTimeout(timer);
  }, [notice]);
  const [eventTypes, setEventTypes] = useState<EventType[]>();
  const [subscriptions, setSubscriptions] = useState<Subscription[]>();
  const [loadError, setLoadError] = useState<string>();

  const context = useMemo<ConsoleContext>(() => {
    const client = clientFor(props.token);
    return {
      client,
      caller,
      can: (capability: Capability) => caller.capabilities.includes(capability),
      isKey: caller.kind === "key",
      failure: (error: unknown) => {
        const message = describeError(error);
        if (isUnauthorized(error)) signOut(message);
        return message;
      },
      notify: (message: string) => setNotice(message),
    };
  }, [props.token, caller, signOut]);

  // The event catalog and the subscriptions' URLs, for forms, filters and tables.
  useEffect(() => {
    context.client
      .call("GET /v1/event-types", { query: { category: "crm" } })
      .then((types) => setEventTypes(types.data))
      .catch((error) => setLoadError(context.failure(error)));
  }, [context]);
  useEffect(() => {
    if (route.screen === "subscriptions") return; // that screen loads its own
    context.client
      .call("GET /v1/subscriptions")
      .then((list) => setSubscriptions(list.data))
      .catch((error) => setLoadError(context.failure(error)));
  }, [context, route.screen]);

  const tabs: Array<{ href: string; label: string; active: boolean }> = [
    { href: "#/subscriptions", label: "Subscriptions", active: route.screen === "subscriptions" },
    {
      href: "#/deliveries",
      label: "Deliveries",
      active: route.screen === "deliveries" || route.screen === "delivery",
    },
    { href: "#/failed", label: "Failed", active: route.screen === "failed" },
    ...(context.isKey ? [{ href: "#/keys", label: "Keys", active: route.screen === "keys" }] : []),
  ];

  return (
    <Context.Provider value={context}>
      <header class="topbar">
        <span class="brand">Customermates Webhooks</span>
        <span class="who">
          Workspace <strong>{caller.workspaceId}</strong>
          {caller.kind === "portal-session"
            ? ` · portal session (${caller.capabilities.join(", ")}), ends ${when(caller.expiresAt)}`
            : " · admin key"}
        </span>
        <button type="button" onClick={() => signOut()}>
          Sign out
        </button>
      </header>
      <nav class="tabs" aria-label="Console">
        {tabs.map((tab) => (
          <a key={tab.href} href={tab.href} aria-current={tab.active ? "page" : undefined}>
            {tab.label}
          </a>
        ))}
      </nav>
      <main id="main" tabIndex={-1}>
        <Alert message={loadError} />
        {route.screen === "subscriptions" ? (
          <SubscriptionsScreen eventTypes={eventTypes} />
        ) : route.screen === "deliveries" ? (
          <DeliveriesScreen eventTypes={eventTypes} subscriptions={subscriptions} />
        ) : route.screen === "delivery" ? (
          <DeliveryScreen id={route.id} subscriptions={subscriptions} />
        ) : route.screen === "failed" ? (
          <FailedScreen subscriptions={subscriptions} />
        ) : context.isKey ? (
          <KeysScreen />
        ) : (
          <p>Keys are for admin keys only.</p>
        )}
      </main>
      <div class="notice" role="status" aria-live="polite">
        {notice}
      </div>
    </Context.Provider>
  );
}
