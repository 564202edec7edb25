import { Arg, Authorized, Ctx, ID, Mutation, Resolver } from "type-graphql";
import { Audited } from "../../../kernel/audit-policy.js";
import { flushOrConflict } from "../../../kernel/db.js";
import { loadConnector } from "../connector/connector.resolver.js";
import type { ConnectorsContext } from "../context.js";
import { RemoteLink } from "../jobs/connector-run.entity.js";
import { ConnectorMapping } from "./mapping.entity.js";
import { CreateMappingInput, UpdateMappingInput } from "./mapping.inputs.js";
import { createMapping, MappingErrors, updateMapping } from "./mapping.service.js";
import type { Connector } from "../connector/connector.entity.js";

const PERM_MANAGE = "connector:manage";

@Resolver(() => ConnectorMapping)
export class MappingResolver {
  @Authorized(PERM_MANAGE)
  @Audited("connector.mapping.created")
  @Mutation(() => ConnectorMapping, { description: "Maps a remote model (Odoo) or record kind (Moodle) to a collection." })
  async createConnectorMapping(
    @Arg("connectorId", () => ID) connectorId: string,
    @Arg("input", () => CreateMappingInput) input: CreateMappingInput,
    @Ctx() ctx: ConnectorsContext,
  ): Promise<ConnectorMapping> {
    const connector = await loadConnector(ctx, connectorId);
    const mapping = await ctx.em.transactional(async (tx) => {
      const mapping = await createMapping(tx, connector, input);
      // Two creations of one model at once both pass createMapping's check: the unique index decides.
      await flushOrConflict(tx, () => MappingErrors.exists(mapping.remoteModel));
      await ctx.audit.record({ ...ctx, em: tx }, { action: "connector.mapping.created", targetType: "Connector", targetId: connector.id, changes: snapshot(mapping) });
      return mapping;
    });
    await applySchedule(ctx, connector, mapping);
    return mapping;
  }

  @Authorized(PERM_MANAGE)
  @Audited("connector.mapping.updated")
  @Mutation(() => ConnectorMapping)
  async updateConnectorMapping(
    @Arg("id", () => ID) id: string,
    @Arg("input", () => UpdateMappingInput) input: UpdateMappingInput,
    @Ctx() ctx: ConnectorsContext,
  ): Promise<ConnectorMapping> {
    const mapping = await loadMapping(ctx, id);
    const connector = await loadConnector(ctx, mapping.connectorId);
    const before = snapshot(mapping);
    await ctx.em.transactional(async (tx) => {
      updateMapping(connector, mapping, input);
      tx.persist(mapping);
      await tx.flush();
      const after = snapshot(mapping);
      const changes = Object.fromEntries(
        Object.keys(after)
          .filter((k) => JSON.stringify(before[k]?.after) !== JSON.stringify(after[k]?.after))
          .map((k) => [k, { before: before[k]?.after, after: after[k]?.after }]),
      );
      await ctx.audit.record({ ...ctx, em: tx }, { action: "connector.mapping.updated", targetType: "Connector", targetId: connector.id, changes, metadata: { mappingId: id } });
    });
    await applySchedule(ctx, connector, mapping);
    return mapping;
  }

  @Authorized(PERM_MANAGE)
  @Audited("connector.mapping.deleted")
  @Mutation(() => Boolean, { description: "Removes a mapping and its schedule (records already synced stay)." })
  async deleteConnectorMapping(@Arg("id", () => ID) id: string, @Ctx() ctx: ConnectorsContext): Promise<boolean> {
    const mapping = await loadMapping(ctx, id);
    await ctx.em.transactional(async (tx) => {
      await tx.nativeDelete(RemoteLink, { mappingId: id });
      await tx.nativeDelete(ConnectorMapping, { id });
      await ctx.audit.record({ ...ctx, em: tx }, { action: "connector.mapping.deleted", targetType: "Connector", targetId: mapping.connectorId, changes: { remoteModel: { before: mapping.remoteModel } }, metadata: { mappingId: id } });
    });
    await ctx.jobs.schedule(id, null, { tenantId: mapping.tenantId, connectorId: mapping.connectorId, mappingId: id });
    return true;
  }
}

async function loadMapping(ctx: ConnectorsContext, id: string): Promise<ConnectorMapping> {
  const mapping = await ctx.loaders.byId(ConnectorMapping).load(id);
  if (!mapping) throw MappingErrors.notFound(id);
  return mapping;
}

function applySchedule(ctx: ConnectorsContext, connector: Connector, mapping: ConnectorMapping): Promise<void> {
  const cron = mapping.enabled ? mapping.schedule : null;
  return ctx.jobs.schedule(mapping.id, cron, { tenantId: connector.tenantId, connectorId: connector.id, mappingId: mapping.id });
}

function snapshot(m: ConnectorMapping): Record<string, { after: unknown }> {
  return {
    remoteModel: { after: m.remoteModel },
    collection: { after: m.collection },
    direction: { after: m.direction },
    schedule: { after: m.schedule },
    enabled: { after: m.enabled },
    fieldMap: { after: m.fieldMap },
  };
}
