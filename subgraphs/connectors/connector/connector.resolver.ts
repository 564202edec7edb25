import { randomBytes } from "node:crypto";
import { Arg, Authorized, Ctx, Field, FieldResolver, ID, Int, Mutation, ObjectType, Query, Resolver, Root } from "type-graphql";
import { Audited } from "../../../kernel/audit-policy.js";
import { requirePrincipal } from "../../../kernel/auth.js";
import type { ConnectorsContext } from "../context.js";
import { ConnectorModelLock } from "../jobs/connector-run.entity.js";
import { ConnectorMapping } from "../mapping/mapping.entity.js";
import { Connector } from "./connector.entity.js";
import { ConnectorErrors } from "./connector.errors.js";
import { CreateConnectorInput, UpdateConnectorInput } from "./connector.inputs.js";
import { createConnector, testConnection, updateConnector } from "./connector.service.js";
import { TenantRef } from "./tenant.ref.js";
import { Errors } from "../../../kernel/errors.js";
import { withLockedTransaction } from "../../../kernel/transaction.js";
import { maxConnectorsFor } from "../../../kernel/plans.js";
import { RemoteLink } from "../jobs/connector-run.entity.js";
import { webhookOwner } from "../webhooks/odoo-webhook.js";
import { WebhookToken } from "../webhooks/webhook-token.entity.js";

const PERM_MANAGE = "connector:manage";
const PERM_RUN = "connector:run";

@ObjectType({ description: "The outcome of testConnection (a failure is data, with a stable code)" })
export class ConnectionTest {
  @Field() ok!: boolean;
  @Field(() => String, { nullable: true, description: "The remote's version" }) version!: string | null;
  @Field(() => String, { nullable: true, description: "Who the credentials authenticate as" }) remoteUser!: string | null;
  @Field(() => Int, { nullable: true }) latencyMs!: number | null;
  @Field(() => String, { nullable: true, description: "REMOTE_AUTH, REMOTE_UNAVAILABLE, REMOTE_TIMEOUT, REMOTE_PERMISSION, NO_CREDENTIALS, ..." })
  errorCode!: string | null;
  @Field(() => String, { nullable: true }) message!: string | null;
}

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
    return loadConnector(ctx, id);
  }

  @Authorized(PERM_MANAGE)
  @Audited("connector.created")
  @Mutation(() => Connector, { description: "Adds an Odoo or Moodle connector to the caller's tenant (credentials are write-only)." })
  async createConnector(@Arg("input", () => CreateConnectorInput) input: CreateConnectorInput, @Ctx() ctx: ConnectorsContext): Promise<Connector> {
    const principal = requirePrincipal(ctx);
    // The plan's cap, counted under a per-tenant lock (held by this transaction until it ends) so that two creations
    // at once cannot both take the last place.
    return withLockedTransaction(ctx.em, `connectors:create:${principal.tenantId}`, async (tx) => {
      const max = maxConnectorsFor(principal.plan);
      if ((await tx.count(Connector, { tenantId: principal.tenantId })) >= max) throw Errors.planLimit("connectors", max);
      const connector = createConnector(tx, ctx.box, principal, input);
      await tx.flush();
      await ctx.audit.record(
        { ...ctx, em: tx },
        {
          action: "connector.created",
          targetType: "Connector",
          targetId: connector.id,
          changes: {
            kind: { after: connector.kind },
            name: { after: connector.name },
            baseUrl: { after: connector.baseUrl },
            ...(input.credentials ? { credentials: { after: "[redacted]" } } : {}),
          },
        },
      );
      return connector;
    });
  }

  @Authorized(PERM_MANAGE)
  @Audited("connector.updated", "connector.credentials.changed")
  @Mutation(() => Connector, { description: "Changes a connector; credentials given replace the stored ones." })
  async updateConnector(
    @Arg("id", () => ID) id: string,
    @Arg("input", () => UpdateConnectorInput) input: UpdateConnectorInput,
    @Ctx() ctx: ConnectorsContext,
  ): Promise<Connector> {
    const connector = await loadConnector(ctx, id);
    return ctx.em.transactional(async (tx) => {
      const changes = updateConnector(connector, ctx.box, input);
      await tx.flush();
      const { credentials, ...rest } = changes;
      if (Object.keys(rest).length) await ctx.audit.record({ ...ctx, em: tx }, { action: "connector.updated", targetType: "Connector", targetId: id, changes: rest });
      if (credentials) await ctx.audit.record({ ...ctx, em: tx }, { action: "connector.credentials.changed", targetType: "Connector", targetId: id, changes: { credentials } });
      return connector;
    });
  }

  @Authorized(PERM_MANAGE)
  @Audited("connector.deleted")
  @Mutation(() => Boolean, { description: "Deletes a connector, its mappings and schedules (records already synced stay). CONFLICT while a run is active." })
  async deleteConnector(@Arg("id", () => ID) id: string, @Ctx() ctx: ConnectorsContext): Promise<boolean> {
    const connector = await loadConnector(ctx, id);
    const mappings = await ctx.em.find(ConnectorMapping, { connectorId: connector.id });
    await ctx.em.transactional(async (tx) => {
      const active = await tx.findOne(ConnectorModelLock, { connectorId: connector.id });
      if (active) throw Errors.conflict(`connector ${id} has an active run (${active.runId}): cancel it first`);
      await tx.nativeDelete(RemoteLink, { mappingId: { $in: mappings.map((m) => m.id) } });
      await tx.nativeDelete(ConnectorMapping, { connectorId: connector.id });
      await tx.nativeDelete(WebhookToken, { connectorId: connector.id });
      await tx.nativeDelete(Connector, { id: connector.id });
      await ctx.audit.record({ ...ctx, em: tx }, { action: "connector.deleted", targetType: "Connector", targetId: id, changes: { name: { before: connector.name } } });
    });
    for (const m of mappings) await ctx.jobs.schedule(m.id, null, { tenantId: connector.tenantId, connectorId: connector.id, mappingId: m.id });
    return true;
  }

  @Authorized(PERM_RUN)
  @Audited("connector.tested")
  @Mutation(() => ConnectionTest, { description: "Authenticates against the remote system; records version, user, latency and health." })
  async testConnection(@Arg("id", () => ID) id: string, @Ctx() ctx: ConnectorsContext): Promise<ConnectionTest> {
    const connector = await loadConnector(ctx, id);
    if (!connector.credentialsUpdatedAt) {
      return { ok: false, version: null, remoteUser: null, latencyMs: null, errorCode: "NO_CREDENTIALS", message: "the connector has no credentials" };
    }
    const outcome = await testConnection(connector, await ctx.sources(connector));
    await ctx.em.transactional(async (tx) => {
      tx.persist(connector);
      await ctx.audit.record(
        { ...ctx, em: tx },
        { action: "connector.tested", targetType: "Connector", targetId: id, metadata: { ok: outcome.ok, errorCode: outcome.errorCode, latencyMs: outcome.latencyMs } },
      );
    });
    return outcome;
  }

  @Authorized(PERM_MANAGE)
  @Audited("connector.webhook.rotated")
  @Mutation(() => String, {
    nullable: true,
    description:
      "Sets a new webhook secret for `POST /webhooks/odoo/<connectorId>` and returns it (shown only now); enabled: false turns webhooks off (returns null). Odoo connectors only.",
  })
  async rotateWebhookSecret(
    @Arg("connectorId", () => ID) connectorId: string,
    @Arg("enabled", () => Boolean, { defaultValue: true }) enabled: boolean,
    @Ctx() ctx: ConnectorsContext,
  ): Promise<string | null> {
    const connector = await loadConnector(ctx, connectorId);
    if (connector.kind !== "ODOO") throw Errors.badInput("webhooks are for Odoo connectors", "connectorId");
    const secret = enabled ? randomBytes(32).toString("base64url") : null;
    await ctx.em.transactional(async (tx) => {
      connector.encryptedWebhookSecret = secret ? ctx.box.seal(secret, webhookOwner(connector.id)) : null;
      connector.webhooksEnabled = secret !== null;
      tx.persist(connector);
      await ctx.audit.record({ ...ctx, em: tx }, { action: "connector.webhook.rotated", targetType: "Connector", targetId: connector.id, changes: { webhookSecret: { after: secret ? "[redacted]" : null } } });
    });
    return secret;
  }

  @FieldResolver(() => Boolean, { description: "Whether credentials are set (they are never returned)" })
  hasCredentials(@Root() connector: Connector): boolean {
    return connector.credentialsUpdatedAt !== null;
  }

  @FieldResolver(() => [ConnectorMapping], { description: "Remote models synced with collections" })
  mappings(@Root() connector: Connector, @Ctx() ctx: ConnectorsContext): Promise<ConnectorMapping[]> {
    return ctx.loaders.byForeignKey(ConnectorMapping, "connectorId", { createdAt: "asc" }).load(connector.id);
  }

  @FieldResolver(() => TenantRef)
  tenant(@Root() connector: Connector): TenantRef {
    return { id: connector.tenantId };
  }
}

/** The caller's connector `id`, or NOT_FOUND (another tenant's is as absent as a missing one). */
export async function loadConnector(ctx: ConnectorsContext, id: string): Promise<Connector> {
  requirePrincipal(ctx);
  const connector = await ctx.loaders.byId(Connector).load(id);
  if (!connector) throw ConnectorErrors.notFound(id);
  return connector;
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
