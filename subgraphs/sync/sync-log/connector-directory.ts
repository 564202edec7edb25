import { Errors } from "../../../kernel/errors.js";
import { REQUEST_ID_HEADER } from "../../../kernel/request-id.js";

/**
 * Asks the connectors service (which owns connectors) whether the caller can see a connector, with the caller's own
 * token: a connector of another tenant is as absent as one that never existed. Never reads connectors' tables.
 */
export class ConnectorDirectory {
  constructor(private readonly connectorsUrl: string) {}

  async exists(connectorId: string, caller: { authorization?: string; requestId: string }): Promise<boolean> {
    let res: Response;
    try {
      res = await fetch(this.connectorsUrl, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(caller.authorization ? { authorization: caller.authorization } : {}),
          [REQUEST_ID_HEADER]: caller.requestId,
        },
        body: JSON.stringify({ query: "query ($id: ID!) { connector(id: $id) { id } }", variables: { id: connectorId } }),
        signal: AbortSignal.timeout(5_000),
      });
    } catch {
      throw Errors.upstreamUnavailable("connectors");
    }
    const body = (await res.json().catch(() => null)) as { data?: { connector?: { id: string } | null }; errors?: { extensions?: { code?: string } }[] } | null;
    if (body?.data?.connector?.id) return true;
    if (body?.errors?.some((e) => e.extensions?.code === "NOT_FOUND")) return false;
    throw Errors.upstreamUnavailable("connectors");
  }
}
