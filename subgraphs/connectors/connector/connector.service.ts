import { randomUUID } from "node:crypto";
import type { EntityManager } from "@mikro-orm/postgresql";
import type { Principal } from "../../../kernel/auth.js";
import { Connector } from "./connector.entity.js";
import { ConnectorErrors } from "./connector.errors.js";
import type { CreateConnectorInput } from "./connector.inputs.js";

/** Validates and creates a connector in the caller's tenant (the tenant comes from the token, never from input). */
export async function createConnector(em: EntityManager, principal: Principal, input: CreateConnectorInput): Promise<Connector> {
  const name = input.name.trim();
  if (name.length < 1 || name.length > 200) throw ConnectorErrors.invalidName();
  if (input.baseUrl.length > 2000) throw ConnectorErrors.invalidUrl();
  let url: URL;
  try {
    url = new URL(input.baseUrl);
  } catch {
    throw ConnectorErrors.invalidUrl();
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw ConnectorErrors.invalidUrl();
  const connector = em.create(Connector, { id: randomUUID(), tenantId: principal.tenantId, kind: input.kind, name, baseUrl: url.toString() });
  await em.flush();
  return connector;
}
