// The permission matrix: every role × "*" and every collection (the tenant's collections and any a grant names), with
// Push and Pull checkboxes and the row filters of each cell. A toggle is saved at once (setCollectionGrant replaces the
// role's grant on that collection): the cell shows the new state while saving, goes back to what it was if the API
// refuses, and shows the API's error beside it. System roles are defined in code (read-only here, as in the API); a
// viewer without role:manage sees the whole matrix read-only.
import { useState } from "react";
import { useClient } from "urql";
import { AccessRemoveGrantDocument, AccessSetGrantDocument, type AccessRolesQuery } from "../__generated__/graphql.js";
import { AccessRowFilterForm, describeFilter, type RowFilterValue } from "./access-row-filters.js";
import { Dialog } from "./dialog.js";
import { ErrorMessage } from "./error-message.js";

type Role = AccessRolesQuery["roles"][number];
type Matrix = AccessRolesQuery["permissionMatrix"];

const ALL = "*";

/** What one cell shows: the role's effective push/pull on the collection and its filters. */
export interface CellValue {
  canPush: boolean;
  canPull: boolean;
  rowFilters: RowFilterValue[];
}

interface CellState {
  saving: boolean;
  /** Shown instead of the server's value while saving (optimistic). */
  value?: CellValue;
  error?: unknown;
}

// A failed save changed nothing: say so first, then the API's own reason.
const NOT_SAVED = {
  BAD_USER_INPUT: "Not saved: the server did not accept this.",
  FORBIDDEN: "Not saved: you don't have permission to change this.",
  NOT_FOUND: "Not saved: this role no longer exists.",
  CONFLICT: "Not saved: it was changed at the same time; try again.",
};

const keyOf = (roleId: string, collection: string) => `${roleId}\u0000${collection}`;
const plain = (filters: readonly RowFilterValue[]): RowFilterValue[] => filters.map(({ field, op, value }) => ({ field, op, value }));
const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Columns: "*" first, then every collection of the tenant or named by a grant, in code-point order (as the API). */
export function matrixColumns(matrix: Matrix, collections: readonly string[] | undefined): string[] {
  const names = new Set([...matrix.collections, ...(collections ?? [])]);
  names.delete(ALL);
  return [ALL, ...[...names].sort(byCodePoint)];
}

export function AccessMatrix({
  roles,
  matrix,
  collections,
  canManage,
  refetch,
}: {
  roles: readonly Role[];
  matrix: Matrix;
  /** The tenant's collections (undefined while unknown: then only the matrix's own columns). */
  collections: readonly string[] | undefined;
  canManage: boolean;
  /** Reads the roles and matrix again; resolves once the fresh data is in. */
  refetch: () => Promise<unknown>;
}) {
  const client = useClient();
  const [states, setStates] = useState<Record<string, CellState>>({});
  const [editing, setEditing] = useState<{ role: Role; collection: string } | null>(null);
  const columns = matrixColumns(matrix, collections);
  const rows = roles.flatMap((role) => {
    const row = matrix.rows.find((r) => r.role.id === role.id);
    return row ? [{ role, row }] : [];
  });

  const setState = (key: string, state: CellState | null) =>
    setStates((all) => {
      const next = { ...all };
      if (state) next[key] = state;
      else delete next[key];
      return next;
    });

  /** The server's cell, or for a collection no grant names, the role's "*" cell (as the API resolves it). */
  function serverCell(role: Role, row: Matrix["rows"][number], collection: string): CellValue & { inherited: boolean } {
    const i = matrix.collections.indexOf(collection);
    const cell = i >= 0 ? row.cells[i] : undefined;
    if (cell) return { canPush: cell.canPush, canPull: cell.canPull, rowFilters: plain(cell.rowFilters), inherited: cell.inherited };
    const star = row.cells[matrix.collections.indexOf(ALL)];
    return {
      canPush: star?.canPush ?? false,
      canPull: star?.canPull ?? false,
      rowFilters: plain(star?.rowFilters ?? []),
      inherited: role.grants.some((g) => g.collection === ALL),
    };
  }

  /** Saves a role's grant on a collection; resolves to the API's error, or null once saved and read back. */
  async function save(role: Role, collection: string, next: CellValue, opts: { errorInCell: boolean }): Promise<unknown> {
    const key = keyOf(role.id, collection);
    setState(key, { saving: true, value: next });
    const res = await client
      .mutation(AccessSetGrantDocument, { input: { roleId: role.id, collection, canPush: next.canPush, canPull: next.canPull, rowFilters: plain(next.rowFilters) } })
      .toPromise();
    if (res.error) {
      // Back to the server's value; the reason stays beside the cell (or in the dialog that sent it).
      setState(key, opts.errorInCell ? { saving: false, error: res.error } : null);
      return res.error;
    }
    await refetch();
    setState(key, null);
    return null;
  }

  async function removeGrant(role: Role, collection: string): Promise<unknown> {
    const key = keyOf(role.id, collection);
    setState(key, { saving: true });
    const res = await client
      .mutation(AccessRemoveGrantDocument, { roleId: role.id, collection }, { additionalTypenames: ["CollectionGrant", "PermissionMatrix"] })
      .toPromise();
    if (res.error) {
      setState(key, null);
      return res.error;
    }
    await refetch();
    setState(key, null);
    return null;
  }

  const editingRow = editing ? rows.find((r) => r.role.id === editing.role.id) : undefined;
  const editingCell = editing && editingRow ? serverCell(editing.role, editingRow.row, editing.collection) : undefined;
  const editingOwn = !!editing && editing.role.grants.some((g) => g.collection === editing.collection);

  return (
    <>
      <div className="access-matrix-wrap" role="region" aria-label="Permission matrix (scrolls sideways)" tabIndex={0}>
        <table className="access-matrix" data-testid="permission-matrix">
          <thead>
            <tr>
              <th scope="col" className="access-matrix-corner">
                Role
              </th>
              {columns.map((c) => (
                <th scope="col" key={c} data-collection={c}>
                  {c === ALL ? (
                    <span title="Applies to every collection the role has no grant of its own for">
                      <code>*</code> <span className="muted">every other</span>
                    </span>
                  ) : (
                    <code>{c}</code>
                  )}
                  {c !== ALL && collections && !collections.includes(c) && <small className="hint access-missing">not created yet</small>}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map(({ role, row }) => (
              <tr key={role.id} data-role={role.name}>
                <th scope="row" className="access-matrix-role">
                  <span className="access-role-name">{role.name}</span>
                  {role.system && <span className="access-tag">built-in</span>}
                </th>
                {columns.map((collection) => {
                  const key = keyOf(role.id, collection);
                  const state = states[key];
                  const server = serverCell(role, row, collection);
                  const shown = state?.value ?? server;
                  const own = !role.system && role.grants.some((g) => g.collection === collection);
                  const editable = canManage && !role.system;
                  const busy = !!state?.saving;
                  const lacks = (perm: string) => !role.permissions.includes(perm);
                  const toggle = (field: "canPush" | "canPull", checked: boolean) =>
                    void save(role, collection, { canPush: shown.canPush, canPull: shown.canPull, rowFilters: shown.rowFilters, [field]: checked }, { errorInCell: true });
                  const box = (field: "canPush" | "canPull", label: "Push" | "Pull", perm: string) => {
                    const why = role.system
                      ? `${role.name} is a built-in role: its access comes from its permissions`
                      : lacks(perm)
                        ? `${role.name} does not hold ${perm}: add it to the role first`
                        : !canManage
                          ? "Changing grants needs role:manage"
                          : undefined;
                    return (
                      <label className="check access-check" title={why}>
                        <input
                          type="checkbox"
                          aria-label={`${label}: ${role.name} on ${collection}`}
                          checked={shown[field]}
                          disabled={!editable || busy || lacks(perm)}
                          onChange={(e) => toggle(field, e.target.checked)}
                        />
                        {label}
                      </label>
                    );
                  };
                  return (
                    <td
                      key={collection}
                      className="access-cell"
                      data-collection={collection}
                      data-saving={busy ? "true" : undefined}
                      data-source={role.system ? "built-in" : own ? "own" : server.inherited ? "inherited" : "none"}
                    >
                      <div className="access-cell-checks">
                        {box("canPush", "Push", "sync:push")}
                        {box("canPull", "Pull", "sync:pull")}
                      </div>
                      <div className="access-cell-filters">
                        {shown.rowFilters.length === 0 ? (
                          <span className="muted">{shown.canPush || shown.canPull ? "all records" : "—"}</span>
                        ) : (
                          <ul className="access-filter-list" aria-label="Row filters">
                            {shown.rowFilters.map((f, i) => (
                              <li key={i}>
                                <code>{describeFilter(f)}</code>
                              </li>
                            ))}
                          </ul>
                        )}
                        {!role.system && (
                          <button
                            type="button"
                            className="link access-filter-button"
                            aria-label={`Row filters: ${role.name} on ${collection}`}
                            onClick={() => setEditing({ role, collection })}
                            disabled={busy}
                          >
                            {editable ? "Filters…" : "View"}
                          </button>
                        )}
                      </div>
                      {!role.system && collection !== ALL && <small className="hint">{own ? "own grant" : server.inherited ? "from *" : "no grant"}</small>}
                      {busy && (
                        <span className="access-saving" role="status">
                          Saving…
                        </span>
                      )}
                      {state?.error !== undefined && (
                        <div className="access-cell-error">
                          <ErrorMessage error={state.error} wording={NOT_SAVED} />
                          <button type="button" className="link" onClick={() => setState(key, null)}>
                            Dismiss
                          </button>
                        </div>
                      )}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="hint">
        A grant on a collection replaces the role&apos;s <code>*</code> grant there. Push and pull count only while the role holds <code>sync:push</code> /{" "}
        <code>sync:pull</code>. Users get the union of their roles&apos; access; row filters narrow it per role.
      </p>
      {/* Mounted only while open: the shared Dialog labels itself by a fixed id, so one dialog at a time. */}
      {editing && editingCell && (
        <Dialog open title={`Row filters: ${editing.role.name} on ${editing.collection}`} onClose={() => setEditing(null)}>
          <AccessRowFilterForm
            key={keyOf(editing.role.id, editing.collection)}
            title={`${editingCell.canPush ? "Push" : ""}${editingCell.canPush && editingCell.canPull ? " and " : ""}${editingCell.canPull ? "Pull" : ""}${
              !editingCell.canPush && !editingCell.canPull ? "No push or pull granted" : " granted"
            }${editingOwn ? "" : editing.collection === ALL ? "" : " (from the * grant; saving makes a grant of its own)"}`}
            filters={editingCell.rowFilters}
            readOnly={!canManage || editing.role.system}
            save={(filters) => save(editing.role, editing.collection, { canPush: editingCell.canPush, canPull: editingCell.canPull, rowFilters: filters }, { errorInCell: false })}
            remove={editingOwn ? () => removeGrant(editing.role, editing.collection) : undefined}
            removeLabel={editing.collection === ALL ? "Remove the * grant" : "Use the * grant instead"}
            onClose={() => setEditing(null)}
          />
        </Dialog>
      )}
    </>
  );
}
