import { useSyncExternalStore } from "react";
import { BrowserRouter, Link, Route, Routes } from "react-router";
import { ApiProvider } from "./api/provider.js";
import { sessionStore } from "./api/session.js";
import { ErrorBoundary } from "./components/error-boundary.js";
import { Layout } from "./components/layout.js";
import { AccessPage } from "./pages/access.page.js";
import { AuditPage } from "./pages/audit.page.js";
import { ConnectorPage } from "./pages/connector.page.js";
import { OverviewPage } from "./pages/overview.page.js";
import { RecordsPage } from "./pages/records.page.js";
import { RunPage } from "./pages/run.page.js";
import { RunsPage } from "./pages/runs.page.js";
import { SignInPage } from "./pages/sign-in.page.js";

export function App() {
  const session = useSyncExternalStore(sessionStore.subscribe, () => sessionStore.current);
  return (
    <ErrorBoundary>
      <BrowserRouter basename="/dashboard">
        {session ? (
          // A new sign-in (another user or tenant) gets fresh clients: no cache or socket crosses sessions.
          <ApiProvider sessionKey={`${session.tenant}/${session.user.id}`}>
            <Routes>
              <Route element={<Layout />}>
                <Route index element={<OverviewPage />} />
                <Route path="connectors/:id" element={<ConnectorPage />} />
                <Route path="runs" element={<RunsPage />} />
                <Route path="runs/:id" element={<RunPage />} />
                <Route path="records" element={<RecordsPage />} />
                <Route path="records/:collection" element={<RecordsPage />} />
                <Route path="access" element={<AccessPage />} />
                <Route path="audit" element={<AuditPage />} />
                <Route path="*" element={<NotFound />} />
              </Route>
            </Routes>
          </ApiProvider>
        ) : (
          // Signed out: every address shows the sign-in form and stays where it was, so signing in lands there.
          <SignInPage />
        )}
      </BrowserRouter>
    </ErrorBoundary>
  );
}

function NotFound() {
  return (
    <main className="page">
      <div className="error-box" role="alert">
        <strong className="error-title">There is no such page.</strong>
        <p>
          <Link to="/">Back to the overview</Link>
        </p>
      </div>
    </main>
  );
}
