import { randomUUID } from "node:crypto";
import type { EntityManager } from "@mikro-orm/postgresql";
import { CronExpressionParser } from "cron-parser";
import { Errors } from "../../../kernel/errors.js";
import { ConnectorKind, type Connector } from "../connector/connector.entity.js";
import { ConnectorMapping, FieldConversion, SyncDirection, type FieldMapping } from "./mapping.entity.js";
import type { CreateMappingInput, FieldMappingInput, UpdateMappingInput } from "./mapping.inputs.js";

export const MOODLE_MODELS = ["course", "user", "enrolment"] as const;
const ODOO_MODEL = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/;
const COLLECTION = /^[A-Za-z0-9_.-]{1,100}$/;
const FIELD = /^[A-Za-z_][A-Za-z0-9_]{0,99}$/;
const REMOTE_FIELD = /^[a-z_][a-z0-9_]{0,99}$/;
const MAX_FIELDS = 200;
const ODOO_ONLY = new Set([FieldConversion.MANY2ONE_ID, FieldConversion.MANY2ONE_NAME, FieldConversion.DATETIME, FieldConversion.DATE]);

export const MappingErrors = {
  notFound: (id: string) => Errors.notFound("ConnectorMapping", id),
  exists: (model: string) => Errors.conflict(`the connector already maps ${model}`, "remoteModel"),
  badModel: (kind: string, model: string) =>
    Errors.badInput(
      kind === ConnectorKind.MOODLE ? `Moodle record kinds are ${MOODLE_MODELS.join(", ")}` : `"${model.slice(0, 100)}" is not an Odoo model name (like res.partner)`,
      "remoteModel",
    ),
  badCollection: () => Errors.badInput("collection must be 1–100 letters, digits, _ . -", "collection"),
  badFieldMap: (why: string) => Errors.badInput(`fieldMap: ${why}`, "fieldMap"),
  badCron: (why: string) => Errors.badInput(`schedule is not a valid cron expression: ${why}`, "schedule"),
};

export async function createMapping(em: EntityManager, connector: Connector, input: CreateMappingInput): Promise<ConnectorMapping> {
  const remoteModel = input.remoteModel.trim();
  checkModel(connector, remoteModel);
  if (await em.count(ConnectorMapping, { connectorId: connector.id, remoteModel })) throw MappingErrors.exists(remoteModel);
  return em.create(ConnectorMapping, {
    id: randomUUID(),
    tenantId: connector.tenantId,
    connectorId: connector.id,
    remoteModel,
    collection: checkCollection(input.collection),
    fieldMap: checkFieldMap(connector, input.fieldMap),
    direction: input.direction ?? SyncDirection.INBOUND,
    schedule: checkSchedule(input.schedule),
  });
}

export function updateMapping(connector: Connector, mapping: ConnectorMapping, input: UpdateMappingInput): void {
  if (input.collection != null) {
    const collection = checkCollection(input.collection);
    // Records already linked stay in the old collection: the next run starts over in the new one.
    if (collection !== mapping.collection) {
      mapping.cursor = null;
      mapping.incrementalSince = null;
      mapping.outboundAfter = null;
      mapping.outbound = null;
    }
    mapping.collection = collection;
  }
  if (input.fieldMap != null) mapping.fieldMap = checkFieldMap(connector, input.fieldMap);
  if (input.direction != null) mapping.direction = input.direction;
  if (input.schedule != null) mapping.schedule = checkSchedule(input.schedule);
  if (input.enabled != null) mapping.enabled = input.enabled;
}

function checkModel(connector: Connector, model: string): void {
  const ok = connector.kind === ConnectorKind.MOODLE ? (MOODLE_MODELS as readonly string[]).includes(model) : ODOO_MODEL.test(model) && model.length <= 200;
  if (!ok) throw MappingErrors.badModel(connector.kind, model);
}

function checkCollection(raw: string): string {
  if (!COLLECTION.test(raw)) throw MappingErrors.badCollection();
  return raw;
}

function checkFieldMap(connector: Connector, input: FieldMappingInput[]): FieldMapping[] {
  if (input.length < 1 || input.length > MAX_FIELDS) throw MappingErrors.badFieldMap(`1 to ${MAX_FIELDS} fields`);
  const seen = new Set<string>();
  return input.map((m) => {
    if (!FIELD.test(m.field) || m.field === "_deleted") throw MappingErrors.badFieldMap(`"${m.field.slice(0, 100)}" is not a valid document field`);
    if (!REMOTE_FIELD.test(m.remote)) throw MappingErrors.badFieldMap(`"${m.remote.slice(0, 100)}" is not a valid remote field`);
    if (seen.has(m.field)) throw MappingErrors.badFieldMap(`"${m.field}" appears twice`);
    seen.add(m.field);
    const convert = m.convert ?? FieldConversion.NONE;
    if (connector.kind === ConnectorKind.MOODLE && ODOO_ONLY.has(convert)) throw MappingErrors.badFieldMap(`${convert} applies to Odoo fields only`);
    if (connector.kind === ConnectorKind.ODOO && convert === FieldConversion.UNIX_TIME) throw MappingErrors.badFieldMap("UNIX_TIME applies to Moodle fields only");
    return { field: m.field, remote: m.remote, convert };
  });
}

/** A cron expression (5 or 6 fields), or null for "" / null. */
export function checkSchedule(raw: string | null | undefined): string | null {
  const cron = raw?.trim() ?? "";
  if (!cron) return null;
  const fields = cron.split(/\s+/).length;
  if (cron.length > 200 || fields < 5 || fields > 6) throw MappingErrors.badCron("expected 5 or 6 fields");
  try {
    CronExpressionParser.parse(cron, { tz: "UTC", strict: false });
  } catch (err) {
    throw MappingErrors.badCron(err instanceof Error ? err.message.slice(0, 200) : "unparseable");
  }
  return cron;
}
