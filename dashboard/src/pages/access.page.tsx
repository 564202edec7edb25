// Placeholder: the Access page (issue 7, item 7) is being built.
export function AccessPage() {
  return (
    <main className="page">
      <h1>Access</h1>
    </main>
  );
}
