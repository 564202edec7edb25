import { NavLink, Outlet, useLocation } from "react-router";
import { useQuery } from "urql";
import { MeDocument } from "../__generated__/graphql.js";
import { useLive, useLiveRuns } from "../api/provider.js";
import { sessionStore } from "../api/session.js";
import { ACCESS_PERMISSIONS } from "../pages/access.page.js";
import { ErrorBoundary } from "./error-boundary.js";

export function Layout() {
  const location = useLocation();
  const [me] = useQuery({ query: MeDocument, requestPolicy: "cache-first" });
  const session = sessionStore.current;
  const user = me.data?.me;
  return (
    <div className="app">
      <header className="topbar">
        <NavLink to="/" className="brand" end>
          <span className="brand-mark" aria-hidden="true" />
          <span>Tributary</span>
        </NavLink>
        <nav className="nav" aria-label="Main">
          <NavLink to="/" end>
            Overview
          </NavLink>
          <NavLink to="/runs">Runs</NavLink>
          <NavLink to="/records">Records</NavLink>
          {/* Only for those who may see users or roles (the page explains itself to anyone who opens it anyway). */}
          {user && ACCESS_PERMISSIONS.some((p) => user.permissions.includes(p)) && <NavLink to="/access">Access</NavLink>}
          <NavLink to="/audit">Audit</NavLink>
        </nav>
        <div className="topbar-end">
          <LiveIndicator />
          <span className="who" title={user ? `${user.email} (${user.roles.join(", ")})` : undefined}>
            <span className="tenant-name">{user?.tenant.name ?? session?.tenant}</span>
            <span className="user-email">{user?.email ?? session?.user.email}</span>
          </span>
          <button type="button" className="ghost" onClick={() => void sessionStore.signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <ErrorBoundary resetKey={location.pathname}>
        <Outlet />
      </ErrorBoundary>
    </div>
  );
}

function LiveIndicator() {
  const live = useLive();
  const { error } = useLiveRuns();
  const state = error ? "error" : live.status;
  const label = error ? "Live updates unavailable" : live.status === "connected" ? "Live" : live.status === "reconnecting" ? "Reconnecting…" : "Connecting…";
  return (
    <span className={`live live-${state}`} role="status" aria-live="polite" title={error ? error.message : undefined} data-live={state}>
      <span className="dot" aria-hidden="true" />
      {label}
    </span>
  );
}
