import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import { Audited } from "../../../kernel/audit-policy.js";
import { requirePrincipal } from "../../../kernel/auth.js";
import type { ConnectorsContext } from "../context.js";
import { Connector } from "./connector.entity.js";
import { ConnectorErrors } from "./connector.errors.js";
import { CreateConnectorInput } from "./connector.inputs.js";
import { createConnector } from "./connector.service.js";
import { TenantRef } from "./tenant.ref.js";

const PERM_MANAGE = "connector:manage";

@Resolver(() => Connector)
export class ConnectorResolver {
  @Authorized()
  @Query(() => [Connector], { description: "The caller's tenant's connectors." })
  connectors(@Ctx() ctx: ConnectorsContext): Promise<Connector[]> {
    return ctx.em.find(Connector, {}, { orderBy: { createdAt: "asc", id: "asc" } });
  }

  @Authorized()
  @Query(() => Connector)
  async connector(@Arg("id", () => ID) id: string, @Ctx() ctx: ConnectorsContext): Promise<Connector> {
    const connector = await ctx.loaders.byId(Connector).load(id);
    if (!connector) throw ConnectorErrors.notFound(id);
    return connector;
  }

  @Authorized(PERM_MANAGE)
  @Audited("connector.created")
  @Mutation(() => Connector, { description: "Adds an Odoo or Moodle connector to the caller's tenant." })
  async createConnector(@Arg("input", () => CreateConnectorInput) input: CreateConnectorInput, @Ctx() ctx: ConnectorsContext): Promise<Connector> {
    const connector = await createConnector(ctx.em, requirePrincipal(ctx), input);
    await ctx.audit.record(ctx, {
      action: "connector.created",
      targetType: "Connector",
      targetId: connector.id,
      changes: { kind: { after: connector.kind }, name: { after: connector.name }, baseUrl: { after: connector.baseUrl } },
    });
    return connector;
  }

  @FieldResolver(() => TenantRef)
  tenant(@Root() connector: Connector): TenantRef {
    return { id: connector.tenantId };
  }
}

@Resolver(() => TenantRef)
export class TenantConnectorsResolver {
  @FieldResolver(() => [Connector], { description: "Connectors of this tenant (only ever the caller's own)." })
  connectors(@Root() tenant: TenantRef, @Ctx() ctx: ConnectorsContext): Promise<Connector[]> {
    requirePrincipal(ctx);
    return ctx.loaders.byForeignKey(Connector, "tenantId", { createdAt: "asc" }).load(tenant.id);
  }
}

/** Federation entry points; the tenant filter makes foreign ids resolve to null. */
export function resolveConnectorReference(ref: { id: string }, ctx: ConnectorsContext): Promise<Connector | null> {
  requirePrincipal(ctx);
  return ctx.loaders.byId(Connector).load(ref.id);
}
export function resolveTenantRefReference(ref: { id: string }, ctx: ConnectorsContext): TenantRef {
  requirePrincipal(ctx);
  return { id: ref.id };
}
