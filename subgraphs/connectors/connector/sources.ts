// A connector's ConnectorSource: its credentials opened in memory only, its limits applied to every remote call.
import type { MikroORM } from "@mikro-orm/postgresql";
import { forkForTenant } from "../../../kernel/tenancy.js";
import type { RemoteCallOptions } from "../remote/remote-call.js";
import { RemoteError, RemoteErrorKind } from "../remote/remote.errors.js";
import type { ConnectorSource } from "../remote/source.js";
import type { SourceFactory } from "../jobs/sync-job.js";
import { ConnectorKind, DEFAULT_SETTINGS, type Connector, type ConnectorSettings } from "./connector.entity.js";
import { credentialsOf, type Credentials } from "./connector.service.js";
import type { SecretBox } from "./secret-box.js";

/** Builds a source for one kind of remote from its URL, credentials and call policy. */
export type SourceBuilders = {
  [K in ConnectorKind]: (args: {
    baseUrl: string;
    credentials: Extract<Credentials, { kind: `${K}` }>;
    call: RemoteCallOptions;
    /** The connector's settings (Odoo: `overlapSeconds`), defaults filled in. */
    settings: ConnectorSettings;
  }) => ConnectorSource;
};

export function sourceFactory(orm: MikroORM, box: SecretBox, builders: SourceBuilders): SourceFactory {
  return async (connector: Connector) => {
    const credentials = await credentialsOf(forkForTenant(orm, connector.tenantId), box, connector);
    if (!credentials) throw new RemoteError(RemoteErrorKind.AUTH, "the connector has no credentials");
    const call: RemoteCallOptions = {
      timeoutMs: connector.settings.timeoutMs,
      retries: connector.settings.retries,
      requestsPerSecond: connector.settings.requestsPerSecond,
    };
    const settings = { ...DEFAULT_SETTINGS, ...connector.settings };
    if (connector.kind === ConnectorKind.ODOO && credentials.kind === "ODOO") return builders.ODOO({ baseUrl: connector.baseUrl, credentials, call, settings });
    if (connector.kind === ConnectorKind.MOODLE && credentials.kind === "MOODLE") return builders.MOODLE({ baseUrl: connector.baseUrl, credentials, call, settings });
    throw new RemoteError(RemoteErrorKind.AUTH, "the connector's credentials are for another kind of system");
  };
}
