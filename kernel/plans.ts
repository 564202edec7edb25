// Quotas of each plan that more than one service enforces. The tenants service publishes the full plan table
// (tenant { limits }); the connectors service caps connectors with the same numbers, reading the plan from the caller's
// token (it is signed by the tenants service; a plan change reaches it with the next token, within 15 minutes).

/** Connectors a tenant may have, per plan (unknown plans get the smallest). */
export const MAX_CONNECTORS: Readonly<Record<string, number>> = { FREE: 1, STARTER: 3, PRO: 10, ENTERPRISE: 100 };

export const maxConnectorsFor = (plan: string): number => MAX_CONNECTORS[plan] ?? MAX_CONNECTORS.FREE!;
