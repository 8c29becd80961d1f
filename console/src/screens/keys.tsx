import { useCallback, useEffect, useId, useState } from "preact/hooks";
import { type ApiKey, fieldErrors } from "../api.ts";
import { Alert, Confirm, ShownOnce, TableWrap } from "../components.tsx";
import { useConsole } from "../context.ts";
import { when } from "../format.ts";

/** The workspace's API keys (admin keys only): list, create (shown once), revoke. */
export function KeysScreen() {
  const { client, failure, notify } = useConsole();
  const [keys, setKeys] = useState<ApiKey[]>();
  const [error, setError] = useState<string>();
  const [name, setName] = useState("");
  const [role, setRole] = useState<"admin" | "ingest">("ingest");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [created, setCreated] = useState<string>();
  const [revoking, setRevoking] = useState<ApiKey>();
  const [busy, setBusy] = useState(false);
  const id = useId();

  const load = useCallback(async () => {
    try {
      setKeys((await client.call("GET /v1/keys")).data);
    } catch (e) {
      setError(failure(e));
    }
  }, [client, failure]);
  useEffect(() => {
    void load();
  }, [load]);

  return (
    <>
      <div class="screen-head">
        <h1>Keys</h1>
      </div>
      <form
        class="inline-form"
        aria-label="New key"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setErrors({});
          setError(undefined);
          try {
            const key = await client.call("POST /v1/keys", {
              body: { role, ...(name ? { name } : {}) },
            });
            setCreated(key.key);
            setName("");
            await load();
          } catch (err) {
            setErrors(fieldErrors(err));
            setError(failure(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <div class="field">
          <label for={`${id}-name`}>Name</label>
          <input
            id={`${id}-name`}
            value={name}
            aria-invalid={errors.name ? true : undefined}
            aria-describedby={errors.name ? `${id}-name-error` : undefined}
            onInput={(e) => setName(e.currentTarget.value)}
          />
          {errors.name ? (
            <p class="field-error" id={`${id}-name-error`}>
              {errors.name}
            </p>
          ) : null}
        </div>
        <div class="field">
          <label for={`${id}-role`}>Role</label>
          <select
            id={`${id}-role`}
            value={role}
            onChange={(e) => setRole(e.currentTarget.value as "admin" | "ingest")}
          >
            <option value="ingest">ingest (post events only)</option>
            <option value="admin">admin (everything)</option>
          </select>
        </div>
        <button type="submit" class="primary" disabled={busy}>
          Create key
        </button>
      </form>
      <Alert message={error} />
      {keys ? (
        <TableWrap label="Keys">
          <table class="responsive">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Role</th>
                <th scope="col">Key</th>
                <th scope="col">Created</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.map((key) => (
                <tr key={key.id}>
                  <td data-label="Name">{key.name}</td>
                  <td data-label="Role">{key.role}</td>
                  <td data-label="Key" class="mono small">
                    {key.hint}
                  </td>
                  <td data-label="Created">{when(key.createdAt)}</td>
                  <td data-label="State">
                    {key.revokedAt ? `Revoked ${when(key.revokedAt)}` : "Active"}
                  </td>
                  <td class="row-actions">
                    {key.revokedAt ? null : (
                      <button type="button" class="danger" onClick={() => setRevoking(key)}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : (
        <p class="muted">Loading…</p>
      )}
      {created ? (
        <ShownOnce
          title="New API key"
          label="Key"
          value={created}
          onClose={() => setCreated(undefined)}
        />
      ) : null}
      {revoking ? (
        <Confirm
          title="Revoke key"
          confirm="Revoke"
          onClose={() => setRevoking(undefined)}
          onConfirm={async () => {
            await client.call("DELETE /v1/keys/{id}", { params: { id: revoking.id } });
            setRevoking(undefined);
            notify("Key revoked.");
            await load();
          }}
        >
          <p>
            Revoke <strong>{revoking.name}</strong> ({revoking.hint})? Anything using it is refused
            at once.
          </p>
        </Confirm>
      ) : null}
    </>
  );
}
