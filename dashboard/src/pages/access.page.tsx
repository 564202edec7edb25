// The Access page (issue 7, item 7): users and their roles, roles and their permissions, and the permission matrix
// (roles × collections). What a viewer sees follows the API's own rules, read from `me.permissions`: users need
// user:manage; roles and the matrix need role:read or role:manage, and are read-only without role:manage; without
// any of these the page says so instead of showing errors. The API still decides every change: its refusals are shown
// where the change was made.
import { useCallback } from "react";
import { useClient, useQuery } from "urql";
import { AccessCollectionsDocument, AccessRolesDocument, MeDocument } from "../__generated__/graphql.js";
import { useRefetchOnReconnect } from "../api/provider.js";
import { AccessMatrix } from "../components/access-matrix.js";
import { AccessRoles } from "../components/access-roles.js";
import { AccessUsers } from "../components/access-users.js";
import { ErrorMessage } from "../components/error-message.js";
import { Loading } from "../components/loading.js";

/** Who may open the Access page at all (the navigation hides its link for everyone else). */
export const ACCESS_PERMISSIONS = ["role:read", "role:manage", "user:manage"] as const;

export function AccessPage() {
  const [me] = useQuery({ query: MeDocument, requestPolicy: "cache-first" });
  const viewer = me.data?.me;
  if (me.error && !viewer) {
    return (
      <main className="page">
        <h1>Access</h1>
        <ErrorMessage error={me.error} />
      </main>
    );
  }
  if (!viewer) {
    return (
      <main className="page">
        <Loading what="Loading" />
      </main>
    );
  }
  const perms = viewer.permissions;
  const canReadRoles = perms.includes("role:read") || perms.includes("role:manage");
  const canManageRoles = perms.includes("role:manage");
  const canManageUsers = perms.includes("user:manage");

  if (!canReadRoles && !canManageUsers) {
    return (
      <main className="page access-page">
        <h1>Access</h1>
        <div className="empty access-denied" data-testid="access-denied" role="status">
          <strong>You don&apos;t have access to users and roles.</strong>
          <p>
            Seeing roles and the permission matrix needs the <code>role:read</code> permission (the ADMIN, MANAGER and READ_ONLY roles have it); managing users
            needs <code>user:manage</code>. Your roles: {viewer.roles.length ? viewer.roles.join(", ") : "none"}. Ask an administrator of your organisation.
          </p>
        </div>
      </main>
    );
  }
  return <AccessSections viewer={viewer} canReadRoles={canReadRoles} canManageRoles={canManageRoles} canManageUsers={canManageUsers} />;
}

function AccessSections({
  viewer,
  canReadRoles,
  canManageRoles,
  canManageUsers,
}: {
  viewer: { id: string; permissions: string[] };
  canReadRoles: boolean;
  canManageRoles: boolean;
  canManageUsers: boolean;
}) {
  const client = useClient();
  const [roles, refetchRoles] = useQuery({ query: AccessRolesDocument, pause: !canReadRoles });
  const [collections] = useQuery({ query: AccessCollectionsDocument, pause: !canReadRoles });
  useRefetchOnReconnect(() => refetchRoles({ requestPolicy: "network-only" }));
  // Resolves once fresh roles and matrix are in (the page's query shows them: same operation, same cache).
  const reread = useCallback(() => client.query(AccessRolesDocument, {}, { requestPolicy: "network-only" }).toPromise(), [client]);

  const data = roles.data;
  // Every known permission: the ADMIN role holds them all.
  const allPermissions = data?.roles.find((r) => r.system && r.name === "ADMIN")?.permissions ?? [];
  const roleChoices = data?.roles.map((r) => ({ name: r.name, description: r.description, permissions: r.permissions, system: r.system }));

  return (
    <main className="page access-page" data-testid="access-page">
      <div className="page-header">
        <h1>Access</h1>
      </div>
      {canReadRoles && !canManageRoles && (
        <p className="notice" role="status" data-testid="access-read-only">
          Read-only: you can see roles and grants; changing them needs the <code>role:manage</code> permission.
        </p>
      )}

      {canManageUsers ? (
        <AccessUsers roles={roleChoices} viewer={viewer} />
      ) : (
        <section aria-labelledby="access-users-title" className="access-section">
          <h2 id="access-users-title">Users</h2>
          <p className="empty" data-testid="users-denied">
            Listing and changing users needs the <code>user:manage</code> permission.
          </p>
        </section>
      )}

      {!canReadRoles && (
        <section aria-labelledby="access-roles-title" className="access-section">
          <h2 id="access-roles-title">Roles and permission matrix</h2>
          <p className="empty" data-testid="roles-denied">
            Seeing roles and collection grants needs the <code>role:read</code> permission.
          </p>
        </section>
      )}
      {canReadRoles && (
        <>
          {roles.error && !data && <ErrorMessage error={roles.error} />}
          {!data && !roles.error && <Loading what="Loading roles" />}
          {data && <AccessRoles roles={data.roles} allPermissions={allPermissions} viewerPermissions={viewer.permissions} canManage={canManageRoles} />}

          <section aria-labelledby="access-matrix-title" className="access-section">
            <h2 id="access-matrix-title">Permission matrix</h2>
            <p className="muted">Which roles may push and pull which collections, and which records (row filters). Changes are saved as you make them.</p>
            {collections.error && (
              <ErrorMessage error={collections.error}>
                <p>The tenant&apos;s collections could not be read: the matrix shows only collections some grant names.</p>
              </ErrorMessage>
            )}
            {data && (
              <AccessMatrix
                roles={data.roles}
                matrix={data.permissionMatrix}
                collections={collections.data?.collections.map((c) => c.name)}
                canManage={canManageRoles}
                refetch={reread}
              />
            )}
          </section>
        </>
      )}
    </main>
  );
}
