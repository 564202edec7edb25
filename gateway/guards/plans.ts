// The gateway's rate limits per tenant plan: one table, overridable by configuration (tests use tiny limits).

/** Requests allowed in each window. Windows are fixed: they start at a key's first request and last an hour / a day. */
export interface WindowLimits {
  perHour: number;
  perDay: number;
}

export const PLANS = ["FREE", "STARTER", "PRO", "ENTERPRISE"] as const;
export type Plan = (typeof PLANS)[number];

/** Rows of the table: the tenant plans, plus ANONYMOUS (unauthenticated calls such as login, counted per client IP). */
export type LimitRow = Plan | "ANONYMOUS";
export type LimitTable = Readonly<Record<LimitRow, WindowLimits>>;

/** DESIGN.md §3: requests per hour and per day follow the tenant's plan. */
export const RATE_LIMITS: LimitTable = {
  FREE: { perHour: 1_000, perDay: 10_000 },
  STARTER: { perHour: 10_000, perDay: 100_000 },
  PRO: { perHour: 100_000, perDay: 1_000_000 },
  ENTERPRISE: { perHour: 1_000_000, perDay: 10_000_000 },
  // Modest: an IP without a token can log in and little else; the tenants service also throttles failed logins.
  ANONYMOUS: { perHour: 600, perDay: 5_000 },
};

/** Partial replacements of rows, e.g. `{ "FREE": { "perHour": 3 } }` (RATE_LIMIT_OVERRIDES, or GatewayConfig). */
export type RateLimitOverrides = Partial<Record<LimitRow, Partial<WindowLimits>>>;

/** The table with `overrides` applied. */
export function limitTable(overrides: RateLimitOverrides = {}): LimitTable {
  const rows = Object.entries(RATE_LIMITS).map(([row, limits]) => [row, { ...limits, ...overrides[row as LimitRow] }]);
  return Object.fromEntries(rows) as Record<LimitRow, WindowLimits>;
}

/** A token's plan claim as a row; anything unknown (old tokens, typos) gets the smallest plan. */
export function planOf(claim: string | undefined): Plan {
  return (PLANS as readonly string[]).includes(claim ?? "") ? (claim as Plan) : "FREE";
}
