import { useState, type FormEvent } from "react";
import { sessionStore } from "../api/session.js";
import { ErrorMessage } from "../components/error-message.js";

const LAST_TENANT_KEY = "tributary.dashboard.tenant";

export function SignInPage() {
  const params = new URLSearchParams(window.location.search);
  const [tenant, setTenant] = useState(() => params.get("tenant") ?? safeGet(LAST_TENANT_KEY) ?? "");
  const [email, setEmail] = useState(() => params.get("email") ?? "");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const ended = sessionStore.endedReason;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await sessionStore.signIn({ tenant: tenant.trim().toLowerCase(), email: email.trim(), password });
      safeSet(LAST_TENANT_KEY, tenant.trim().toLowerCase());
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  return (
    <main className="sign-in">
      <form className="card sign-in-card" onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">
          <span className="brand-mark" aria-hidden="true" />
          Tributary
        </h1>
        <p className="muted">Sign in to watch and steer your syncs.</p>
        {ended && !error && <p className="notice">{ended}</p>}
        <label>
          Organisation
          <input name="tenant" value={tenant} onChange={(e) => setTenant(e.target.value)} required autoComplete="organization" placeholder="demo" autoCapitalize="none" spellCheck={false} />
        </label>
        <label>
          Email
          <input name="email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} required autoComplete="username" />
        </label>
        <label>
          Password
          <input name="password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} required autoComplete="current-password" />
        </label>
        {error ? (
          <ErrorMessage
            error={error}
            wording={{ UNAUTHENTICATED: "Wrong organisation, email or password.", RATE_LIMITED: "Too many sign-in attempts." }}
          />
        ) : null}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}

function safeGet(key: string): string | null {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}
function safeSet(key: string, value: string): void {
  try {
    window.localStorage.setItem(key, value);
  } catch {
    /* storage unavailable */
  }
}
