import { Arg, Authorized, Ctx, Field, FieldResolver, ID, Mutation, ObjectType, Resolver, Root } from "type-graphql";
import { Audited } from "../../../kernel/audit-policy.js";
import { Errors } from "../../../kernel/errors.js";
import type { ConnectorsContext } from "../context.js";
import { Connector, ConnectorKind } from "../connector/connector.entity.js";
import { loadConnector } from "../connector/connector.resolver.js";
import { newWebhookToken, notifyPath } from "./odoo-notify.js";
import { WebhookToken } from "./webhook-token.entity.js";

@ObjectType({ description: "A connector's webhook URL for a stock Odoo automation (the token in it is shown only once)" })
export class WebhookEndpoint {
  @Field({ description: "The path on the gateway's public URL: POST https://<gateway>/webhooks/odoo/notify/<token>" })
  path!: string;

  @Field({ description: "The secret part of the path (shown only now; only its SHA-256 is stored)" })
  token!: string;

  @Field()
  createdAt!: Date;
}

@Resolver(() => Connector)
export class WebhookResolver {
  @Authorized("connector:manage")
  @Audited("connector.webhook_url.rotated")
  @Mutation(() => WebhookEndpoint, {
    nullable: true,
    description:
      "Creates (or replaces) the connector's webhook URL and returns it once; the previous URL stops working at once (404). enabled: false removes it (returns null). Odoo connectors only.",
  })
  async rotateWebhookToken(
    @Arg("connectorId", () => ID) connectorId: string,
    @Arg("enabled", () => Boolean, { defaultValue: true }) enabled: boolean,
    @Ctx() ctx: ConnectorsContext,
  ): Promise<WebhookEndpoint | null> {
    const connector = await loadConnector(ctx, connectorId);
    if (connector.kind !== ConnectorKind.ODOO) throw Errors.badInput("webhook URLs are for Odoo connectors", "connectorId");
    const fresh = enabled ? newWebhookToken() : null;
    const createdAt = new Date();
    await ctx.em.transactional(async (tx) => {
      await tx.nativeDelete(WebhookToken, { connectorId: connector.id });
      if (fresh) await tx.insert(WebhookToken, { connectorId: connector.id, tenantId: connector.tenantId, tokenHash: fresh.hash, createdAt, lastUsedAt: null });
      await ctx.audit.record(
        { ...ctx, em: tx },
        { action: "connector.webhook_url.rotated", targetType: "Connector", targetId: connector.id, changes: { webhookToken: { after: fresh ? "[redacted]" : null } } },
      );
    });
    return fresh ? { path: notifyPath(fresh.token), token: fresh.token, createdAt } : null;
  }

  @FieldResolver(() => Date, { nullable: true, description: "When the current webhook URL was made (rotateWebhookToken); null: none" })
  async webhookUrlCreatedAt(@Root() connector: Connector, @Ctx() ctx: ConnectorsContext): Promise<Date | null> {
    const [token] = await ctx.loaders.byForeignKey(WebhookToken, "connectorId").load(connector.id);
    return token?.createdAt ?? null;
  }

  @FieldResolver(() => Date, { nullable: true, description: "When the webhook URL was last called successfully" })
  async webhookUrlLastUsedAt(@Root() connector: Connector, @Ctx() ctx: ConnectorsContext): Promise<Date | null> {
    const [token] = await ctx.loaders.byForeignKey(WebhookToken, "connectorId").load(connector.id);
    return token?.lastUsedAt ?? null;
  }
}
