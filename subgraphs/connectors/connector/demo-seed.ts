import { randomUUID } from "node:crypto";
import type { MikroORM } from "@mikro-orm/postgresql";
import { forkForTenant } from "../../../kernel/tenancy.js";
import { Connector, ConnectorKind } from "./connector.entity.js";

/** Gives a demo tenant one Odoo and one Moodle connector, once. */
export async function ensureDemoConnectors(orm: MikroORM, tenantId: string, urls: { odoo: string; moodle: string }): Promise<Connector[]> {
  const em = forkForTenant(orm, tenantId);
  const existing = await em.find(Connector, {});
  if (existing.length) return existing;
  const created = [
    em.create(Connector, { id: randomUUID(), tenantId, kind: ConnectorKind.ODOO, name: "Demo Odoo", baseUrl: urls.odoo }),
    em.create(Connector, { id: randomUUID(), tenantId, kind: ConnectorKind.MOODLE, name: "Demo Moodle", baseUrl: urls.moodle }),
  ];
  await em.flush();
  return created;
}
