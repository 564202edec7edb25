// The documented push limits and the request body limit agree: a push of the most rows, each with a new and an assumed
// state of the largest document size, fits in the body every GraphQL endpoint reads (kernel/input-guards.ts).
import { describe, expect, it } from "@jest/globals";
import { MAX_BODY_BYTES } from "../../../kernel/input-guards.js";
import { MAX_DOCUMENT_BYTES, MAX_ID_LENGTH, MAX_PUSH_ROWS } from "./records.service.js";

/** A document whose JSON text (without `_deleted`, as measured by the push) is exactly MAX_DOCUMENT_BYTES. */
function largestDocument(id: string): Record<string, unknown> {
  const doc: Record<string, unknown> = { id, blob: "" };
  doc.blob = "x".repeat(MAX_DOCUMENT_BYTES - Buffer.byteLength(JSON.stringify(doc)));
  expect(Buffer.byteLength(JSON.stringify(doc))).toBe(MAX_DOCUMENT_BYTES);
  return doc;
}

describe("push limits vs the request body limit", () => {
  it("a full batch of maximum-size documents (new and assumed states, longest ids) fits in MAX_BODY_BYTES", () => {
    const row = (i: number) => {
      const id = String(i).padStart(MAX_ID_LENGTH, "i");
      return { assumedMasterState: { ...largestDocument(id), _deleted: false }, newDocumentState: { ...largestDocument(id), _deleted: false } };
    };
    const oneRow = Buffer.byteLength(JSON.stringify(row(0)));
    const query = "mutation RxPush($input: PushChangesInput!) { pushChanges(input: $input) { conflicts rejected { index id code message } } }";
    const envelope = Buffer.byteLength(
      JSON.stringify({
        query,
        operationName: "RxPush",
        variables: { input: { collection: "c".repeat(100), rows: [], clientId: "d".repeat(200), mutationId: "m".repeat(200), strategy: "SERVER_WINS", rejectedAsConflicts: true } },
      }),
    );
    const fullBatch = envelope + MAX_PUSH_ROWS * (oneRow + 1);
    expect(fullBatch).toBeLessThanOrEqual(MAX_BODY_BYTES);
    // ...and the limit is not far above it (a larger body only costs memory).
    expect(MAX_BODY_BYTES - fullBatch).toBeLessThan(4 * 1024 * 1024);
  });
});
