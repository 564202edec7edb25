// Runs and records per day, and run duration percentiles, from syncStats (one bucket per UTC day, empty ones included).
import { Bar, CartesianGrid, ComposedChart, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { OverviewQuery } from "../__generated__/graphql.js";
import { formatCount, formatDuration } from "../lib/format.js";

type Bucket = OverviewQuery["syncStats"][number];

const COLORS = { succeeded: "#1a7f37", partial: "#d4a72c", failed: "#cf222e", cancelled: "#8c959f", records: "#0969da", p95: "#8250df", p50: "#0969da" };
const day = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" });

export function RunsChart({ buckets }: { buckets: readonly Bucket[] }) {
  const data = buckets.map((b) => ({
    day: day.format(new Date(b.start)),
    succeeded: b.succeeded,
    partial: b.partial,
    failed: b.failed,
    cancelled: b.cancelled,
    records: b.processed,
    p95: b.p95DurationMs === null ? null : b.p95DurationMs / 1_000,
    p50: b.p50DurationMs === null ? null : b.p50DurationMs / 1_000,
  }));
  return (
    <div className="charts">
      <figure className="chart" aria-label="Runs and records per day">
        <figcaption>Runs (bars, by outcome) and records processed (line) per day</figcaption>
        <ResponsiveContainer width="100%" height={240}>
          <ComposedChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" vertical={false} />
            <XAxis dataKey="day" tick={{ fontSize: 12 }} interval="preserveStartEnd" />
            <YAxis yAxisId="runs" allowDecimals={false} tick={{ fontSize: 12 }} width={36} />
            <YAxis yAxisId="records" orientation="right" tick={{ fontSize: 12 }} width={56} tickFormatter={(v: number) => formatCount(v)} />
            <Tooltip formatter={(value, name) => [formatCount(Number(value)), String(name)]} />
            <Legend wrapperStyle={{ fontSize: 12 }} />
            <Bar yAxisId="runs" dataKey="succeeded" name="Succeeded" stackId="runs" fill={COLORS.succeeded} isAnimationActive={false} />
            <Bar yAxisId="runs" dataKey="partial" name="Partial" stackId="runs" fill={COLORS.partial} isAnimationActive={false} />
            <Bar yAxisId="runs" dataKey="failed" name="Failed" stackId="runs" fill={COLORS.failed} isAnimationActive={false} />
            <Bar yAxisId="runs" dataKey="cancelled" name="Cancelled" stackId="runs" fill={COLORS.cancelled} isAnimationActive={false} />
            <Line yAxisId="records" dataKey="records" name="Records" stroke={COLORS.records} strokeWidth={2} dot={false} isAnimationActive={false} />
          </ComposedChart>
        </ResponsiveContainer>
      </figure>
      <figure className="chart" aria-label="Run duration per day">
        <figcaption>Run duration per day: p95 and median (finished runs)</figcaption>
        <ResponsiveContainer width="100%" height={200}>
          <LineChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" vertical={false} />
            <XAxis dataKey="day" tick={{ fontSize: 12 }} interval="preserveStartEnd" />
            <YAxis tick={{ fontSize: 12 }} width={44} unit=" s" />
            <Tooltip formatter={(value, name) => [value === null || value === undefined ? "—" : formatDuration(Number(value) * 1_000), String(name)]} />
            <Legend wrapperStyle={{ fontSize: 12 }} />
            <Line dataKey="p95" name="p95" stroke={COLORS.p95} strokeWidth={2} connectNulls isAnimationActive={false} />
            <Line dataKey="p50" name="median" stroke={COLORS.p50} strokeWidth={1} strokeDasharray="4 3" connectNulls isAnimationActive={false} />
          </LineChart>
        </ResponsiveContainer>
      </figure>
      <details className="chart-table">
        <summary>Show as a table</summary>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Day (UTC)</th>
                <th scope="col">Runs</th>
                <th scope="col">Succeeded</th>
                <th scope="col">Partial</th>
                <th scope="col">Failed</th>
                <th scope="col">Records</th>
                <th scope="col">p95 duration</th>
              </tr>
            </thead>
            <tbody>
              {buckets.map((b) => (
                <tr key={b.start}>
                  <td>{day.format(new Date(b.start))}</td>
                  <td>{formatCount(b.runs)}</td>
                  <td>{formatCount(b.succeeded)}</td>
                  <td>{formatCount(b.partial)}</td>
                  <td>{formatCount(b.failed)}</td>
                  <td>{formatCount(b.processed)}</td>
                  <td>{formatDuration(b.p95DurationMs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </div>
  );
}
