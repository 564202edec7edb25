// Placeholder: the Records page (issue 7, item 6) is being built.
export function RecordsPage() {
  return (
    <main className="page">
      <h1>Records</h1>
    </main>
  );
}
