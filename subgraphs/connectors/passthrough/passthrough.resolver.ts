// Allow-listed passthrough calls for API consumers: `odooCall` (execute_kw on an allowed `model.method`) and
// `moodleCall` (an allowed web-service function). Permission `connector:run`, checked here (the service that owns the
// connector); each connector's calls share one client, so its rate limit toward the remote holds across requests;
// every call is audited (with its outcome, never its arguments' secrets or the credentials).
import { GraphQLJSON, GraphQLJSONObject } from "graphql-scalars";
import { Arg, Authorized, Ctx, ID, Mutation, Resolver } from "type-graphql";
import { Audited } from "../../../kernel/audit-policy.js";
import { appError, ErrorCode, Errors } from "../../../kernel/errors.js";
import { loadConnector } from "../connector/connector.resolver.js";
import { credentialsOf } from "../connector/connector.service.js";
import type { Connector } from "../connector/connector.entity.js";
import type { ConnectorsContext } from "../context.js";
import { MoodleClient } from "../moodle/moodle.client.js";
import { OdooClient } from "../odoo/odoo.client.js";
import { RemoteCaller } from "../remote/remote-call.js";
import { isRemoteError, RemoteErrorKind } from "../remote/remote.errors.js";

const MAX_ARGS_BYTES = 64 * 1024;
const CLIENTS_KEPT = 500;

/** One client per connector (and credentials/settings version): its RemoteCaller carries the rate limit. */
const clients = new Map<string, OdooClient | MoodleClient>();

async function clientFor(ctx: ConnectorsContext, connector: Connector): Promise<OdooClient | MoodleClient> {
  const key = `${connector.id}:${connector.credentialsUpdatedAt?.getTime()}:${JSON.stringify(connector.settings)}:${connector.baseUrl}`;
  const cached = clients.get(key);
  if (cached) return cached;
  const creds = await credentialsOf(ctx.em, ctx.box, connector);
  if (!creds) throw Errors.badInput(`connector ${connector.id} has no credentials: set them with updateConnector`, "connectorId");
  const caller = new RemoteCaller({ timeoutMs: connector.settings.timeoutMs, retries: connector.settings.retries, requestsPerSecond: connector.settings.requestsPerSecond });
  const client =
    creds.kind === "ODOO"
      ? new OdooClient({ url: connector.baseUrl, db: creds.database, login: creds.login, password: creds.password, caller })
      : new MoodleClient({ url: connector.baseUrl, token: creds.token, caller });
  if (clients.size >= CLIENTS_KEPT) clients.delete(clients.keys().next().value!);
  clients.set(key, client);
  return client;
}

function upstream(err: unknown) {
  if (!isRemoteError(err)) return err;
  const detail = { remoteKind: err.kind, ...(err.detail.remoteCode ? { remoteCode: err.detail.remoteCode } : {}) };
  if (err.transient) return appError(ErrorCode.UPSTREAM_UNAVAILABLE, `the remote system is unavailable: ${err.message}`, { service: "remote", ...detail });
  return appError(ErrorCode.UPSTREAM_ERROR, err.message, detail);
}

const notAllowed = (call: string) => appError(ErrorCode.FORBIDDEN, `${call.slice(0, 200)} is not in this connector's allowedCalls`, { reason: "CALL_NOT_ALLOWED" });

@Resolver()
export class PassthroughResolver {
  @Authorized("connector:run")
  @Audited("connector.odoo.called")
  @Mutation(() => GraphQLJSON, { description: "Calls execute_kw(model, method, args, kwargs) on an Odoo connector; `model.method` must be in its allowedCalls." })
  async odooCall(
    @Arg("connectorId", () => ID) connectorId: string,
    @Arg("model") model: string,
    @Arg("method") method: string,
    @Arg("args", () => GraphQLJSON, { nullable: true }) args: unknown,
    @Arg("kwargs", () => GraphQLJSONObject, { nullable: true }) kwargs: Record<string, unknown> | null,
    @Ctx() ctx: ConnectorsContext,
  ): Promise<unknown> {
    const connector = await loadConnector(ctx, connectorId);
    if (connector.kind !== "ODOO") throw Errors.badInput("odooCall needs an Odoo connector", "connectorId");
    const call = `${model}.${method}`;
    if (method.startsWith("_") || !connector.allowedCalls.includes(call)) throw notAllowed(call);
    if (args != null && !Array.isArray(args)) throw Errors.badInput("args must be a list (execute_kw's positional arguments)", "args");
    if (Buffer.byteLength(JSON.stringify([args, kwargs])) > MAX_ARGS_BYTES) throw Errors.badInput(`args and kwargs are limited to ${MAX_ARGS_BYTES} bytes`, "args");
    const client = (await clientFor(ctx, connector)) as OdooClient;
    return this.audited(ctx, connector, "connector.odoo.called", call, () => client.executeKw(model, method, (args as unknown[] | null) ?? [], kwargs ?? {}));
  }

  @Authorized("connector:run")
  @Audited("connector.moodle.called")
  @Mutation(() => GraphQLJSON, { description: "Calls a Moodle web-service function with params (PHP arrays as nested JSON); the function must be in the connector's allowedCalls." })
  async moodleCall(
    @Arg("connectorId", () => ID) connectorId: string,
    @Arg("function") fn: string,
    @Arg("params", () => GraphQLJSONObject, { nullable: true }) params: Record<string, unknown> | null,
    @Ctx() ctx: ConnectorsContext,
  ): Promise<unknown> {
    const connector = await loadConnector(ctx, connectorId);
    if (connector.kind !== "MOODLE") throw Errors.badInput("moodleCall needs a Moodle connector", "connectorId");
    if (!connector.allowedCalls.includes(fn)) throw notAllowed(fn);
    if (Buffer.byteLength(JSON.stringify(params ?? {})) > MAX_ARGS_BYTES) throw Errors.badInput(`params are limited to ${MAX_ARGS_BYTES} bytes`, "params");
    const client = (await clientFor(ctx, connector)) as MoodleClient;
    return this.audited(ctx, connector, "connector.moodle.called", fn, () => client.call(fn, params ?? {}));
  }

  private async audited(ctx: ConnectorsContext, connector: Connector, action: string, call: string, fn: () => Promise<unknown>): Promise<unknown> {
    const started = Date.now();
    let errorKind: RemoteErrorKind | null = null;
    try {
      return await fn();
    } catch (err) {
      errorKind = isRemoteError(err) ? err.kind : null;
      throw upstream(err);
    } finally {
      await ctx.audit.record(ctx, {
        action,
        targetType: "Connector",
        targetId: connector.id,
        metadata: { call, ok: errorKind === null, ...(errorKind ? { errorKind } : {}), durationMs: Date.now() - started },
      });
    }
  }
}
