// Placeholder: the Audit page (issue 7, item 8) is being built.
export function AuditPage() {
  return (
    <main className="page">
      <h1>Audit</h1>
    </main>
  );
}
