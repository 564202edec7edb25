import { randomUUID } from "node:crypto";
import type { MikroORM } from "@mikro-orm/postgresql";
import { forkForTenant } from "../../../kernel/tenancy.js";
import { ConnectorMapping, FieldConversion, SyncDirection } from "../mapping/mapping.entity.js";
import { Connector, ConnectorKind } from "./connector.entity.js";
import { credentialsOwner } from "./connector.service.js";
import type { SecretBox } from "./secret-box.js";

export interface DemoRemotes {
  odoo: { url: string; database: string; login: string; password: string };
  moodle: { url: string; token: string };
}

/** The collections the demo mappings fill (created in the sync service by the embedded root). */
export const DEMO_COLLECTIONS = ["partners", "products", "courses", "learners"] as const;

const f = (field: string, remote: string, convert = FieldConversion.NONE) => ({ field, remote, convert });

/**
 * Gives a demo tenant one Odoo and one Moodle connector pointing at the embedded simulators, with credentials and
 * mappings, once; later starts only point them at the simulators' current URLs and credentials.
 */
export async function ensureDemoConnectors(orm: MikroORM, box: SecretBox, tenantId: string, remotes: DemoRemotes): Promise<Connector[]> {
  const em = forkForTenant(orm, tenantId);
  const existing = await em.find(Connector, { name: { $in: ["Demo Odoo", "Demo Moodle"] } });
  const odoo =
    existing.find((c) => c.kind === ConnectorKind.ODOO) ??
    em.create(Connector, { id: randomUUID(), tenantId, kind: ConnectorKind.ODOO, name: "Demo Odoo", baseUrl: remotes.odoo.url, allowedCalls: ["res.partner.search_read", "res.partner.search_count"] });
  const moodle =
    existing.find((c) => c.kind === ConnectorKind.MOODLE) ??
    em.create(Connector, { id: randomUUID(), tenantId, kind: ConnectorKind.MOODLE, name: "Demo Moodle", baseUrl: remotes.moodle.url, allowedCalls: ["core_course_get_courses", "core_webservice_get_site_info"] });
  odoo.baseUrl = remotes.odoo.url;
  odoo.encryptedCredentials = box.seal(JSON.stringify({ kind: "ODOO", ...remotes.odoo, url: undefined }), credentialsOwner(odoo.id));
  odoo.credentialsUpdatedAt ??= new Date();
  moodle.baseUrl = remotes.moodle.url;
  moodle.encryptedCredentials = box.seal(JSON.stringify({ kind: "MOODLE", token: remotes.moodle.token }), credentialsOwner(moodle.id));
  moodle.credentialsUpdatedAt ??= new Date();
  if (!existing.length) {
    const mapping = (connector: Connector, remoteModel: string, collection: string, fieldMap: ReturnType<typeof f>[]) =>
      em.create(ConnectorMapping, { id: randomUUID(), tenantId, connectorId: connector.id, remoteModel, collection, fieldMap, direction: SyncDirection.INBOUND });
    mapping(odoo, "res.partner", "partners", [
      f("name", "name"),
      f("email", "email"),
      f("phone", "phone"),
      f("isCompany", "is_company", FieldConversion.BOOLEAN),
      f("country", "country_id", FieldConversion.MANY2ONE_NAME),
      f("updatedAt", "write_date", FieldConversion.DATETIME),
    ]);
    mapping(odoo, "product.product", "products", [f("name", "name"), f("code", "default_code"), f("price", "list_price")]);
    mapping(moodle, "course", "courses", [f("name", "fullname"), f("code", "shortname"), f("modifiedAt", "timemodified", FieldConversion.UNIX_TIME)]);
    mapping(moodle, "user", "learners", [f("username", "username"), f("email", "email"), f("firstName", "firstname"), f("lastName", "lastname")]);
  }
  await em.flush();
  return [odoo, moodle];
}
