import { describe, expect, it } from "@jest/globals";
import { parseFramed, parseSplit, RawJson, rawJsonNonce, stringifyFramed, stringifySplit, stringifyWithRawJson } from "./http.js";

// Raw JSON values travel as their text; whatever the path, the client must read exactly what JSON.stringify of the
// parsed values would have given.
const docs = ['{"id": "a", "n": 1, "_deleted": false}', '{"id": "b", "s": "x\\"y\\u00e9", "_deleted": true}', '{"_deleted": false}'];
const raw = () => ({
  data: {
    page: { documents: docs.map((d) => new RawJson(d)), checkpoint: "c1", hasMore: true, one: [new RawJson(docs[0])], none: [] as RawJson[] },
    items: docs.map((d, i) => ({ collection: `c${i}`, document: new RawJson(d) })),
    mixed: [new RawJson(docs[0]), { plain: 1 }, "text"],
    lookalike: "00000000000000000000000000000000" + "0",
  },
});
const plain = () => JSON.parse(JSON.stringify(raw())); // RawJson.toJSON outside a stringify: the parsed value

describe("raw JSON values", () => {
  it("are spliced into the response text as the parsed values would be written", () => {
    const text = stringifyWithRawJson(raw());
    expect(text.endsWith("\n")).toBe(true);
    expect(JSON.parse(text)).toEqual(plain());
    expect(text).toContain(docs[1]); // the text itself, not a re-serialisation
  });

  it("pass the gateway framed (arrays kept element by element) and come out equal", () => {
    const nonce = rawJsonNonce();
    const framed = stringifyFramed(raw(), nonce);
    expect(framed.startsWith(`${nonce}:`)).toBe(true);
    const back = parseFramed(framed, nonce) as { data: { page: { documents: unknown[] } } };
    expect(back.data.page.documents).toHaveLength(3);
    expect(back.data.page.documents.every((d) => d instanceof RawJson)).toBe(true);
    expect(JSON.parse(stringifyWithRawJson(back))).toEqual(plain());
  });

  it("split for the pass-through: the head parsed, the data as text", () => {
    const nonce = rawJsonNonce();
    const value = { ...raw(), errors: [{ message: "one row", path: ["page"], extensions: { code: "BAD_USER_INPUT" } }] };
    const split = parseSplit(stringifySplit(value, nonce), nonce);
    expect(split?.head).toEqual({ errors: value.errors });
    expect(JSON.parse(split!.dataText)).toEqual(plain().data);
    // No data to split off: plain JSON, which the caller parses.
    const bare = stringifySplit({ errors: [{ message: "refused" }] }, nonce);
    expect(parseSplit(bare, nonce)).toBeNull();
    expect(JSON.parse(bare)).toEqual({ errors: [{ message: "refused" }] });
  });

  it("leave strings that look like placeholders alone (the marker is a fresh nonce per response)", () => {
    const value = { data: { s: "abc0", list: [new RawJson("1"), new RawJson("2")] } };
    expect(JSON.parse(stringifyWithRawJson(value))).toEqual({ data: { s: "abc0", list: [1, 2] } });
  });
});
