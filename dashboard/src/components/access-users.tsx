// The Access page's users: a searchable, keyset-paged list with each user's roles and state; changing a user's roles
// (assignRoles), deactivating and reactivating, and adding a user with a password or an invitation whose one-time
// token is shown once. Needs user:manage (the API's `users` and its mutations do).
import { useEffect, useState, type FormEvent } from "react";
import { useMutation, useQuery } from "urql";
import {
  AccessAssignRolesDocument,
  AccessCreateUserDocument,
  AccessDeactivateUserDocument,
  AccessReactivateUserDocument,
  AccessUsersDocument,
  type AccessUserFragment,
  type UserStatus,
} from "../__generated__/graphql.js";
import { formatAgo, formatDateTime } from "../lib/format.js";
import { Dialog, FormActions } from "./dialog.js";
import { ErrorMessage } from "./error-message.js";
import { Loading } from "./loading.js";

const PAGE_SIZE = 20;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** A role as the users section offers it. */
export interface RoleChoice {
  name: string;
  description: string | null;
  permissions: readonly string[];
  system: boolean;
}

const STATUS: Record<UserStatus, { tone: string; label: string }> = {
  ACTIVE: { tone: "success", label: "Active" },
  INVITED: { tone: "queued", label: "Invited" },
  DISABLED: { tone: "cancelled", label: "Deactivated" },
};

function UserStatusBadge({ status }: { status: UserStatus }) {
  const s = STATUS[status];
  return (
    <span className={`badge tone-${s.tone}`} data-user-status={status}>
      <span className="dot" aria-hidden="true" />
      {s.label}
    </span>
  );
}

/** Permissions `role` would give that the viewer lacks (the API refuses those: nobody grants what they don't hold). */
const lacking = (role: RoleChoice, viewer: readonly string[]) => role.permissions.filter((p) => !viewer.includes(p));

export function AccessUsers({ roles, viewer }: { roles: readonly RoleChoice[] | undefined; viewer: { id: string; permissions: readonly string[] } }) {
  const [search, setSearch] = useState("");
  const [term, setTerm] = useState("");
  const [cursors, setCursors] = useState<string[]>([]);
  const [editing, setEditing] = useState<AccessUserFragment | null>(null);
  const [deactivating, setDeactivating] = useState<AccessUserFragment | null>(null);
  const [creating, setCreating] = useState(false);
  const [rowError, setRowError] = useState<{ userId: string; error: unknown } | null>(null);
  const [, reactivate] = useMutation(AccessReactivateUserDocument);

  // Searching as one types, once the typing pauses; a new search starts from the first page.
  useEffect(() => {
    const timer = setTimeout(() => {
      setTerm(search.trim());
      setCursors([]);
    }, 300);
    return () => clearTimeout(timer);
  }, [search]);

  const after = cursors.at(-1) ?? null;
  const [page] = useQuery({ query: AccessUsersDocument, variables: { search: term || null, first: PAGE_SIZE, after } });
  const users = page.data?.users.nodes ?? [];

  async function doReactivate(user: AccessUserFragment) {
    setRowError(null);
    const res = await reactivate({ id: user.id });
    if (res.error) setRowError({ userId: user.id, error: res.error });
  }

  return (
    <section aria-labelledby="access-users-title" className="access-section">
      <div className="section-header">
        <h2 id="access-users-title">Users</h2>
        <button type="button" className="primary" onClick={() => setCreating(true)}>
          Add user
        </button>
      </div>
      <form className="access-search" role="search" onSubmit={(e) => e.preventDefault()}>
        <label className="inline">
          Search
          <input type="search" name="search" value={search} placeholder="Email or name" onChange={(e) => setSearch(e.target.value)} />
        </label>
      </form>

      {page.error && <ErrorMessage error={page.error} />}
      {!page.data && !page.error && <Loading what="Loading users" />}
      {page.data && users.length === 0 && <p className="empty">{term ? `No user matches “${term}”.` : "No users."}</p>}
      {users.length > 0 && (
        <div className="table-wrap">
          <table className="responsive" data-testid="users">
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Roles</th>
                <th scope="col">State</th>
                <th scope="col">Last sign-in</th>
                <th scope="col">
                  <span className="access-sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {users.map((u) => (
                <tr key={u.id} data-email={u.email} data-status={u.status}>
                  <td data-label="User">
                    <span className="access-user">
                      <strong className="break">{u.email}</strong>
                      {u.displayName !== u.email && <span className="muted small">{u.displayName}</span>}
                    </span>
                  </td>
                  <td data-label="Roles">
                    <span className="access-tags" data-testid="user-roles">
                      {u.roles.length === 0 ? <span className="muted">none</span> : u.roles.map((r) => <span key={r} className="access-tag">{r}</span>)}
                    </span>
                  </td>
                  <td data-label="State">
                    <UserStatusBadge status={u.status} />
                  </td>
                  <td data-label="Last sign-in" title={formatDateTime(u.lastLoginAt)}>
                    {formatAgo(u.lastLoginAt)}
                  </td>
                  <td data-label="Actions">
                    <span className="actions access-row-actions">
                      <button type="button" onClick={() => setEditing(u)} aria-label={`Change roles of ${u.email}`}>
                        Roles…
                      </button>
                      {u.status === "DISABLED" ? (
                        <button type="button" onClick={() => void doReactivate(u)} aria-label={`Reactivate ${u.email}`}>
                          Reactivate
                        </button>
                      ) : (
                        <button
                          type="button"
                          className="danger"
                          onClick={() => {
                            setRowError(null);
                            setDeactivating(u);
                          }}
                          disabled={u.id === viewer.id}
                          title={u.id === viewer.id ? "You cannot deactivate yourself" : undefined}
                          aria-label={`Deactivate ${u.email}`}
                        >
                          Deactivate
                        </button>
                      )}
                    </span>
                    {rowError?.userId === u.id && <ErrorMessage error={rowError.error} />}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {(cursors.length > 0 || page.data?.users.pageInfo.hasNextPage) && (
        <nav className="pager" aria-label="Users pages">
          <button type="button" onClick={() => setCursors((c) => c.slice(0, -1))} disabled={cursors.length === 0}>
            Previous
          </button>
          <span className="muted">Page {cursors.length + 1}</span>
          <button
            type="button"
            onClick={() => {
              const end = page.data?.users.pageInfo.endCursor;
              if (end) setCursors((c) => [...c, end]);
            }}
            disabled={!page.data?.users.pageInfo.hasNextPage}
          >
            Next
          </button>
        </nav>
      )}

      {/* Mounted only while open: the shared Dialog labels itself by a fixed id, so one dialog at a time. */}
      {editing && (
        <Dialog open title={`Roles of ${editing.email}`} onClose={() => setEditing(null)}>
          <AssignRolesForm key={editing.id} user={editing} roles={roles} viewer={viewer} onClose={() => setEditing(null)} />
        </Dialog>
      )}
      {deactivating && (
        <Dialog open title="Deactivate user" onClose={() => setDeactivating(null)}>
          <DeactivateForm user={deactivating} onClose={() => setDeactivating(null)} />
        </Dialog>
      )}
      {creating && (
        <Dialog open title="Add user" onClose={() => setCreating(false)}>
          <CreateUserForm roles={roles} viewer={viewer} onClose={() => setCreating(false)} />
        </Dialog>
      )}
    </section>
  );
}

/** Role checkboxes; a role that would give the viewer's missing permissions can be kept but not newly given. */
function RoleChecks({
  roles,
  viewer,
  held,
  chosen,
  onChange,
}: {
  roles: readonly RoleChoice[];
  viewer: readonly string[];
  held: readonly string[];
  chosen: readonly string[];
  onChange: (roles: string[]) => void;
}) {
  return (
    <fieldset className="checks access-role-checks">
      <legend>Roles</legend>
      {roles.map((r) => {
        const missing = lacking(r, viewer);
        const blocked = missing.length > 0 && !held.includes(r.name);
        return (
          <label className="check" key={r.name} title={blocked ? `It gives permissions you don't hold: ${missing.join(", ")}` : undefined}>
            <input
              type="checkbox"
              name="roles"
              value={r.name}
              checked={chosen.includes(r.name)}
              disabled={blocked}
              onChange={(e) => onChange(e.target.checked ? [...chosen, r.name] : chosen.filter((x) => x !== r.name))}
            />
            <span>
              {r.name}
              {r.system && <span className="access-tag">built-in</span>}
              <small>{blocked ? `Gives permissions you don't hold (${missing.join(", ")})` : (r.description ?? (r.permissions.join(", ") || "no permissions"))}</small>
            </span>
          </label>
        );
      })}
    </fieldset>
  );
}

/** Role names typed by hand, for a viewer who may manage users but not read roles. */
function RoleNamesInput({ value, onChange }: { value: readonly string[]; onChange: (roles: string[]) => void }) {
  return (
    <div className="field">
      <label htmlFor="role-names">Roles</label>
      <input id="role-names" value={value.join(", ")} onChange={(e) => onChange(e.target.value.split(",").map((s) => s.trim()).filter(Boolean))} />
      <small className="hint">Role names separated by commas (listing roles needs role:read)</small>
    </div>
  );
}

function AssignRolesForm({ user, roles, viewer, onClose }: { user: AccessUserFragment; roles: readonly RoleChoice[] | undefined; viewer: { permissions: readonly string[] }; onClose: () => void }) {
  const [chosen, setChosen] = useState<string[]>([...user.roles]);
  const [result, assign] = useMutation(AccessAssignRolesDocument);
  async function submit(e: FormEvent) {
    e.preventDefault();
    const res = await assign({ userId: user.id, roles: chosen });
    if (!res.error) onClose();
  }
  return (
    <form className="form" onSubmit={submit} noValidate>
      {roles ? (
        <RoleChecks roles={roles} viewer={viewer.permissions} held={user.roles} chosen={chosen} onChange={setChosen} />
      ) : (
        <RoleNamesInput value={chosen} onChange={setChosen} />
      )}
      <p className="hint">Collection grants change at once. Permissions taken away end the user&apos;s current tokens at once (their app gets new ones silently); added ones apply from their next token refresh.</p>
      <FormActions error={result.error} busy={result.fetching} label="Save roles" busyLabel="Saving…" onCancel={onClose} />
    </form>
  );
}

function DeactivateForm({ user, onClose }: { user: AccessUserFragment; onClose: () => void }) {
  const [result, deactivate] = useMutation(AccessDeactivateUserDocument);
  async function submit(e: FormEvent) {
    e.preventDefault();
    const res = await deactivate({ id: user.id });
    if (!res.error) onClose();
  }
  return (
    <form className="form" onSubmit={submit}>
      <p>
        Deactivate <strong>{user.email}</strong>? Their sessions and API keys end at once and they cannot sign in. You can reactivate them later.
      </p>
      <FormActions error={result.error} busy={result.fetching} label="Deactivate" busyLabel="Deactivating…" tone="danger" onCancel={onClose} />
    </form>
  );
}

/** 24 characters from 18 random bytes (base64url). */
function generatePassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_");
}

interface Created {
  email: string;
  invitationToken: string | null;
  password: string | null;
}

function CreateUserForm({ roles, viewer, onClose }: { roles: readonly RoleChoice[] | undefined; viewer: { permissions: readonly string[] }; onClose: () => void }) {
  const [email, setEmail] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [chosen, setChosen] = useState<string[]>(["USER"]);
  const [mode, setMode] = useState<"invite" | "password">("invite");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<{ email?: string; password?: string; roles?: string }>({});
  const [result, create] = useMutation(AccessCreateUserDocument);
  // The one-time secret lives only in this form's state: gone once the dialog closes.
  const [created, setCreated] = useState<Created | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const found: typeof errors = {};
    const address = email.trim();
    if (!EMAIL.test(address) || address.length > 320) found.email = "Enter an email address";
    if (mode === "password" && (password.length < 12 || password.length > 1024)) found.password = "A password has 12 to 1024 characters";
    setErrors(found);
    if (Object.keys(found).length) return;
    const res = await create({
      input: { email: address, displayName: displayName.trim() || null, roles: chosen, password: mode === "password" ? password : null },
    });
    if (res.data) {
      setCreated({ email: res.data.createUser.user.email, invitationToken: res.data.createUser.invitationToken ?? null, password: mode === "password" ? password : null });
      setPassword("");
    }
  }

  if (created) {
    const secret = created.invitationToken ?? created.password ?? "";
    return (
      <div className="form">
        <div className="notice notice-ok" role="status">
          {created.invitationToken ? (
            <>
              <strong>{created.email}</strong> is invited. Send them this one-time invitation token; they set their password with it (valid 7 days).
            </>
          ) : (
            <>
              <strong>{created.email}</strong> can sign in now with this password.
            </>
          )}
        </div>
        <div className="access-secret" data-testid="created-user-secret" data-kind={created.invitationToken ? "invitation" : "password"}>
          <code className="break">{secret}</code>
          <button type="button" onClick={() => void navigator.clipboard?.writeText(secret).catch(() => undefined)}>
            Copy
          </button>
        </div>
        <p className="field-error">It is shown only now: copy it before closing.</p>
        <div className="actions">
          <button type="button" className="primary" onClick={onClose}>
            Done
          </button>
        </div>
      </div>
    );
  }

  return (
    <form className="form" onSubmit={submit} noValidate aria-label="Add user">
      <div className="field">
        <label htmlFor="new-user-email">Email</label>
        <input
          id="new-user-email"
          type="email"
          autoComplete="off"
          value={email}
          onChange={(e) => {
            setEmail(e.target.value);
            setErrors((x) => ({ ...x, email: undefined }));
          }}
          aria-invalid={errors.email ? true : undefined}
          aria-describedby={errors.email ? "new-user-email-error" : undefined}
        />
        {errors.email && (
          <span className="field-error" id="new-user-email-error">
            {errors.email}
          </span>
        )}
      </div>
      <div className="field">
        <label htmlFor="new-user-name">Display name</label>
        <input id="new-user-name" value={displayName} placeholder="defaults to the email" onChange={(e) => setDisplayName(e.target.value)} />
      </div>
      {roles ? <RoleChecks roles={roles} viewer={viewer.permissions} held={[]} chosen={chosen} onChange={setChosen} /> : <RoleNamesInput value={chosen} onChange={setChosen} />}
      <fieldset className="checks">
        <legend>Sign-in</legend>
        <label className="check">
          <input type="radio" name="mode" value="invite" checked={mode === "invite"} onChange={() => setMode("invite")} />
          <span>
            Invite <small>a one-time token (7 days) with which they set their own password</small>
          </span>
        </label>
        <label className="check">
          <input type="radio" name="mode" value="password" checked={mode === "password"} onChange={() => setMode("password")} />
          <span>
            Set a password now <small>you hand it over; they can sign in at once</small>
          </span>
        </label>
        {mode === "password" && (
          <div className="field">
            <label htmlFor="new-user-password">Password</label>
            <span className="access-password">
              <input
                id="new-user-password"
                type="text"
                autoComplete="new-password"
                spellCheck={false}
                value={password}
                onChange={(e) => {
                  setPassword(e.target.value);
                  setErrors((x) => ({ ...x, password: undefined }));
                }}
                aria-invalid={errors.password ? true : undefined}
                aria-describedby={errors.password ? "new-user-password-error" : "new-user-password-hint"}
              />
              <button type="button" onClick={() => setPassword(generatePassword())}>
                Generate
              </button>
            </span>
            {errors.password ? (
              <span className="field-error" id="new-user-password-error">
                {errors.password}
              </span>
            ) : (
              <small className="hint" id="new-user-password-hint">
                12 to 1024 characters
              </small>
            )}
          </div>
        )}
      </fieldset>
      <FormActions error={result.error} busy={result.fetching} label={mode === "invite" ? "Invite user" : "Add user"} busyLabel="Adding…" onCancel={onClose} />
    </form>
  );
}
