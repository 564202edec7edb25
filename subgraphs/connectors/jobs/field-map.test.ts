// The document → remote conversion of outbound write-back (toRemoteFields), as the inverse of mapRecord: every
// conversion round-trips a remote value through a document and back, empty values go back as the remote writes them,
// MANY2ONE_NAME is never written, absent fields are left out, and bad values are refused with the field named.
import { describe, expect, it } from "@jest/globals";
import { FieldConversion, type FieldMapping } from "../mapping/mapping.entity.js";
import { FieldValueError, mapRecord, toRemoteFields } from "./field-map.js";

const f = (field: string, remote: string, convert = FieldConversion.NONE): FieldMapping => ({ field, remote, convert });

describe("toRemoteFields (outbound)", () => {
  const odooMap = [
    f("name", "name"),
    f("isCompany", "is_company", FieldConversion.BOOLEAN),
    f("countryId", "country_id", FieldConversion.MANY2ONE_ID),
    f("country", "country_id", FieldConversion.MANY2ONE_NAME),
    f("orderedAt", "date_order", FieldConversion.DATETIME),
    f("birthday", "birthday", FieldConversion.DATE),
  ];

  it("inverts mapRecord for Odoo values: many2one id, boolean, datetime to seconds in UTC, date", () => {
    const remote = { name: "Acme", is_company: true, country_id: [75, "France"], date_order: "2025-03-07 14:05:09", birthday: "1990-12-31" };
    const doc = mapRecord(remote, odooMap);
    expect(doc).toEqual({ name: "Acme", isCompany: true, countryId: 75, country: "France", orderedAt: "2025-03-07T14:05:09.000Z", birthday: "1990-12-31" });
    expect(toRemoteFields(doc, odooMap)).toEqual({ name: "Acme", is_company: true, country_id: 75, date_order: "2025-03-07 14:05:09", birthday: "1990-12-31" });
  });

  it("writes Odoo's empty values back: false for many2one, date and datetime, false for a boolean, null as is", () => {
    const remote = { name: false, is_company: false, country_id: false, date_order: false, birthday: false };
    const doc = mapRecord(remote, odooMap);
    expect(toRemoteFields(doc, odooMap)).toEqual({ name: null, is_company: false, country_id: false, date_order: false, birthday: false });
  });

  it("never writes MANY2ONE_NAME fields (a display name is not a reference)", () => {
    const fields = toRemoteFields({ country: "Belgium" }, odooMap);
    expect(fields).toEqual({});
    expect(toRemoteFields({ country: "Belgium", countryId: 21 }, odooMap)).toEqual({ country_id: 21 });
  });

  it("leaves out fields the document does not carry (a partial document keeps the remote's other values)", () => {
    expect(toRemoteFields({ name: "Only the name", extra: "not mapped" }, odooMap)).toEqual({ name: "Only the name" });
  });

  it("converts client-written values: zones to UTC, a numeric string id, date-times cut to a date", () => {
    expect(toRemoteFields({ orderedAt: "2025-03-07T16:05:09.987+02:00", countryId: "12", birthday: "2001-02-03T23:00:00Z" }, odooMap)).toEqual({
      date_order: "2025-03-07 14:05:09",
      country_id: 12,
      birthday: "2001-02-03",
    });
    expect(toRemoteFields({ orderedAt: "2025-03-07 14:05:09" }, odooMap)).toEqual({ date_order: "2025-03-07 14:05:09" });
    expect(toRemoteFields({ orderedAt: "2025-03-07" }, odooMap)).toEqual({ date_order: "2025-03-07 00:00:00" });
  });

  it("refuses values it cannot convert, naming the field", () => {
    const bad = (doc: Record<string, unknown>) => {
      try {
        toRemoteFields(doc, odooMap);
      } catch (err) {
        return err;
      }
      return null;
    };
    for (const doc of [{ orderedAt: "soon" }, { orderedAt: 1_700_000_000 }, { birthday: "2025-02-30" }, { birthday: "31/12/1990" }, { countryId: "FR" }, { countryId: -3 }, { countryId: 1.5 }]) {
      const err = bad(doc);
      expect(err).toBeInstanceOf(FieldValueError);
      expect((err as FieldValueError).field).toBe(Object.keys(doc)[0]);
      expect((err as Error).message).toContain(Object.keys(doc)[0]);
    }
  });

  it("inverts Moodle conversions: Unix seconds from ISO (0 for empty), 0/1 booleans", () => {
    const moodleMap = [f("name", "fullname"), f("startsAt", "startdate", FieldConversion.UNIX_TIME), f("visible", "visible", FieldConversion.BOOLEAN)];
    const remote = { fullname: "Algebra", startdate: 1_767_225_600, visible: 1 };
    const doc = mapRecord(remote, moodleMap);
    expect(doc).toEqual({ name: "Algebra", startsAt: "2026-01-01T00:00:00.000Z", visible: true });
    expect(toRemoteFields(doc, moodleMap)).toEqual({ fullname: "Algebra", startdate: 1_767_225_600, visible: true });
    expect(toRemoteFields(mapRecord({ fullname: "x", startdate: 0, visible: 0 }, moodleMap), moodleMap)).toEqual({ fullname: "x", startdate: 0, visible: false });
    // Seconds as a number or a numeric string pass through; sub-second ISO times round down.
    expect(toRemoteFields({ startsAt: 1_767_225_600 }, moodleMap)).toEqual({ startdate: 1_767_225_600 });
    expect(toRemoteFields({ startsAt: "1767225600" }, moodleMap)).toEqual({ startdate: 1_767_225_600 });
    expect(toRemoteFields({ startsAt: "2026-01-01T00:00:00.999Z" }, moodleMap)).toEqual({ startdate: 1_767_225_600 });
    expect(() => toRemoteFields({ startsAt: "next week" }, moodleMap)).toThrow(FieldValueError);
  });

  it("round-trips random remote records through a document and back (every writable conversion)", () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 500; i++) {
      const seconds = Math.floor(rnd() * 4_000_000_000);
      const iso = new Date(seconds * 1000).toISOString();
      const remote = {
        name: rnd() < 0.2 ? false : `n${i}`,
        is_company: rnd() < 0.5,
        country_id: rnd() < 0.2 ? false : [1 + Math.floor(rnd() * 250), "Somewhere"],
        date_order: rnd() < 0.2 ? false : `${iso.slice(0, 10)} ${iso.slice(11, 19)}`,
        birthday: rnd() < 0.2 ? false : iso.slice(0, 10),
      };
      const back = toRemoteFields(mapRecord(remote, odooMap), odooMap);
      expect(back).toEqual({
        name: remote.name === false ? null : remote.name,
        is_company: remote.is_company,
        country_id: remote.country_id === false ? false : (remote.country_id as [number, string])[0],
        date_order: remote.date_order,
        birthday: remote.birthday,
      });
    }
  });
});
