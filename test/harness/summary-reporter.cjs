// Prints one plain closing line, "N passed, N failed" (", N skipped"), that CI reads whatever the runner.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    process.stdout.write(
      `\nTests: ${results.numPassedTests} passed, ${results.numFailedTests + results.numRuntimeErrorTestSuites} failed` +
        (skipped ? `, ${skipped} skipped` : "") +
        "\n",
    );
  }
}
module.exports = SummaryReporter;
