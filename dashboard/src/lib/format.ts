// Numbers, times and durations as people read them (the browser's locale).
const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

export const formatCount = (n: number | null | undefined): string => (n === null || n === undefined ? "—" : integer.format(n));

export const formatRate = (perSecond: number | null | undefined): string =>
  perSecond === null || perSecond === undefined ? "—" : `${oneDecimal.format(perSecond)}/s`;

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  const s = ms / 1_000;
  if (s < 60) return `${oneDecimal.format(s)} s`;
  const m = Math.floor(s / 60);
  const rest = Math.round(s % 60);
  if (m < 60) return `${m} min ${rest} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export const formatDateTime = (iso: string | null | undefined): string => (iso ? dateTime.format(new Date(iso)) : "—");

/** "3 minutes ago", "yesterday". */
export function formatAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "never";
  const diff = (Date.parse(iso) - now) / 1_000;
  const abs = Math.abs(diff);
  if (abs < 45) return "just now";
  if (abs < 3_600) return relative.format(Math.round(diff / 60), "minute");
  if (abs < 86_400) return relative.format(Math.round(diff / 3_600), "hour");
  return relative.format(Math.round(diff / 86_400), "day");
}

export const shortId = (id: string): string => id.slice(0, 8);
