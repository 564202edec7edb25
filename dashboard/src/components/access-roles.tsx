// The Access page's roles: every role with its permissions; the tenant's own roles can be created, edited (name,
// description, permissions) and deleted by a role:manage holder. The five built-in roles are defined in code and
// cannot be changed (the API answers FORBIDDEN), so they have no buttons. A permission the viewer does not hold can be
// kept on a role but not added (the API refuses escalation).
import { useState, type FormEvent } from "react";
import { useMutation } from "urql";
import { AccessCreateRoleDocument, AccessDeleteRoleDocument, AccessUpdateRoleDocument, type AccessRolesQuery } from "../__generated__/graphql.js";
import { Dialog, FormActions } from "./dialog.js";

type Role = AccessRolesQuery["roles"][number];

/** What each permission allows, for the role form. */
const PERMISSION_HINTS: Record<string, string> = {
  "tenant:manage": "settings of the organisation, collections",
  "user:read": "see users",
  "user:manage": "add, deactivate users and change their roles",
  "role:read": "see roles and the permission matrix",
  "role:manage": "change roles and collection grants",
  "connector:manage": "set up connectors",
  "connector:run": "start and cancel syncs",
  "sync:push": "push records (where grants allow)",
  "sync:pull": "pull records (where grants allow)",
  "audit:read": "read the audit log",
};

// Role names: the API's rule (role.service.ts), checked before sending.
const NAME = /^[\p{L}\p{N}][\p{L}\p{N} _.-]{0,99}$/u;

// Deleting or renaming a role changes the roles users hold: their lists are read again.
const USERS_TOO = { additionalTypenames: ["User", "Role", "PermissionMatrix"] };

export function AccessRoles({ roles, allPermissions, viewerPermissions, canManage }: { roles: readonly Role[]; allPermissions: readonly string[]; viewerPermissions: readonly string[]; canManage: boolean }) {
  const [editing, setEditing] = useState<Role | "new" | null>(null);
  const [deleting, setDeleting] = useState<Role | null>(null);
  return (
    <section aria-labelledby="access-roles-title" className="access-section">
      <div className="section-header">
        <h2 id="access-roles-title">Roles</h2>
        {canManage && (
          <button type="button" className="primary" onClick={() => setEditing("new")}>
            New role
          </button>
        )}
      </div>
      <div className="table-wrap">
        <table className="responsive" data-testid="roles">
          <thead>
            <tr>
              <th scope="col">Role</th>
              <th scope="col">Permissions</th>
              {canManage && (
                <th scope="col">
                  <span className="access-sr-only">Actions</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {roles.map((r) => (
              <tr key={r.id} data-role={r.name}>
                <td data-label="Role">
                  <span className="access-user">
                    <strong>
                      {r.name} {r.system && <span className="access-tag">built-in</span>}
                    </strong>
                    {r.description && <span className="muted small">{r.description}</span>}
                  </span>
                </td>
                <td data-label="Permissions">
                  <span className="access-tags">
                    {r.permissions.length === 0 ? <span className="muted">none</span> : r.permissions.map((p) => <code key={p} className="access-perm">{p}</code>)}
                  </span>
                </td>
                {canManage && (
                  <td data-label="Actions">
                    {r.system ? (
                      <span className="muted small">defined by Tributary</span>
                    ) : (
                      <span className="actions access-row-actions">
                        <button type="button" onClick={() => setEditing(r)} aria-label={`Edit role ${r.name}`}>
                          Edit
                        </button>
                        <button type="button" className="danger" onClick={() => setDeleting(r)} aria-label={`Delete role ${r.name}`}>
                          Delete
                        </button>
                      </span>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {/* Mounted only while open: the shared Dialog labels itself by a fixed id, so one dialog at a time. */}
      {editing !== null && (
        <Dialog open title={editing === "new" ? "New role" : `Edit role ${editing.name}`} onClose={() => setEditing(null)}>
          <RoleForm key={editing === "new" ? "new" : editing.id} role={editing === "new" ? null : editing} allPermissions={allPermissions} viewerPermissions={viewerPermissions} onClose={() => setEditing(null)} />
        </Dialog>
      )}
      {deleting && (
        <Dialog open title="Delete role" onClose={() => setDeleting(null)}>
          <DeleteRoleForm role={deleting} onClose={() => setDeleting(null)} />
        </Dialog>
      )}
    </section>
  );
}

function RoleForm({ role, allPermissions, viewerPermissions, onClose }: { role: Role | null; allPermissions: readonly string[]; viewerPermissions: readonly string[]; onClose: () => void }) {
  const [name, setName] = useState(role?.name ?? "");
  const [description, setDescription] = useState(role?.description ?? "");
  const [permissions, setPermissions] = useState<string[]>([...(role?.permissions ?? [])]);
  const [errors, setErrors] = useState<{ name?: string; description?: string }>({});
  const [created, createRole] = useMutation(AccessCreateRoleDocument);
  const [updated, updateRole] = useMutation(AccessUpdateRoleDocument);
  const result = role ? updated : created;

  async function submit(e: FormEvent) {
    e.preventDefault();
    const found: typeof errors = {};
    if (!NAME.test(name.trim())) found.name = "1 to 100 letters, digits, spaces, _ . - (starting with a letter or digit)";
    if (description.trim().length > 500) found.description = "At most 500 characters";
    setErrors(found);
    if (Object.keys(found).length) return;
    const res = role
      ? await updateRole({ id: role.id, input: { name: name.trim(), description: description.trim(), permissions } }, USERS_TOO)
      : await createRole({ input: { name: name.trim(), description: description.trim() || null, permissions } });
    if (!res.error) onClose();
  }

  return (
    <form className="form" onSubmit={submit} noValidate aria-label={role ? "Edit role" : "New role"}>
      <div className="field">
        <label htmlFor="role-name">Name</label>
        <input
          id="role-name"
          value={name}
          onChange={(e) => {
            setName(e.target.value);
            setErrors((x) => ({ ...x, name: undefined }));
          }}
          aria-invalid={errors.name ? true : undefined}
          aria-describedby={errors.name ? "role-name-error" : role ? "role-name-hint" : undefined}
        />
        {errors.name ? (
          <span className="field-error" id="role-name-error">
            {errors.name}
          </span>
        ) : (
          role && (
            <small className="hint" id="role-name-hint">
              Renaming also renames it on every user holding it
            </small>
          )
        )}
      </div>
      <div className="field">
        <label htmlFor="role-description">Description</label>
        <input
          id="role-description"
          value={description}
          onChange={(e) => setDescription(e.target.value)}
          aria-invalid={errors.description ? true : undefined}
          aria-describedby={errors.description ? "role-description-error" : undefined}
        />
        {errors.description && (
          <span className="field-error" id="role-description-error">
            {errors.description}
          </span>
        )}
      </div>
      <fieldset className="checks access-permission-checks">
        <legend>Permissions</legend>
        {allPermissions.map((p) => {
          const blocked = !viewerPermissions.includes(p) && !role?.permissions.includes(p);
          return (
            <label className="check" key={p} title={blocked ? "You cannot give a permission you don't hold" : undefined}>
              <input
                type="checkbox"
                name="permissions"
                value={p}
                checked={permissions.includes(p)}
                disabled={blocked}
                onChange={(e) => setPermissions((list) => (e.target.checked ? [...list, p].sort() : list.filter((x) => x !== p)))}
              />
              <span>
                <code>{p}</code>
                <small>{blocked ? "you don't hold it" : (PERMISSION_HINTS[p] ?? "")}</small>
              </span>
            </label>
          );
        })}
      </fieldset>
      <FormActions error={result.error} busy={result.fetching} label={role ? "Save role" : "Create role"} busyLabel="Saving…" onCancel={onClose} />
    </form>
  );
}

function DeleteRoleForm({ role, onClose }: { role: Role; onClose: () => void }) {
  const [result, deleteRole] = useMutation(AccessDeleteRoleDocument);
  async function submit(e: FormEvent) {
    e.preventDefault();
    const res = await deleteRole({ id: role.id }, USERS_TOO);
    if (!res.error) onClose();
  }
  return (
    <form className="form" onSubmit={submit}>
      <p>
        Delete the role <strong>{role.name}</strong>? Every user holding it loses it, and its collection grants stop applying at once.
      </p>
      <FormActions error={result.error} busy={result.fetching} label="Delete role" busyLabel="Deleting…" tone="danger" onCancel={onClose} />
    </form>
  );
}
