// Status colours (issue 7): success green, partial yellow, failed red, running blue and animated, never run grey.
import type { ConnectorHealth, SyncRunStatus } from "../__generated__/graphql.js";

export type Tone = "success" | "partial" | "failed" | "running" | "queued" | "cancelled" | "never";

export const FINAL_STATUSES: readonly string[] = ["SUCCEEDED", "PARTIAL", "FAILED", "CANCELLED"];
export const isActive = (status: string | null | undefined): boolean => status === "QUEUED" || status === "RUNNING";

export function runTone(status: SyncRunStatus | string | null | undefined): Tone {
  switch (status) {
    case "SUCCEEDED":
      return "success";
    case "PARTIAL":
      return "partial";
    case "FAILED":
      return "failed";
    case "RUNNING":
      return "running";
    case "QUEUED":
      return "queued";
    case "CANCELLED":
      return "cancelled";
    default:
      return "never";
  }
}

export function runLabel(status: SyncRunStatus | string | null | undefined): string {
  switch (status) {
    case "SUCCEEDED":
      return "Succeeded";
    case "PARTIAL":
      return "Partial";
    case "FAILED":
      return "Failed";
    case "RUNNING":
      return "Running";
    case "QUEUED":
      return "Queued";
    case "CANCELLED":
      return "Cancelled";
    default:
      return "Never run";
  }
}

export function healthTone(health: ConnectorHealth): Tone {
  return health === "HEALTHY" ? "success" : health === "DEGRADED" ? "partial" : health === "UNREACHABLE" ? "failed" : "never";
}

export function healthLabel(health: ConnectorHealth): string {
  return health === "HEALTHY" ? "Healthy" : health === "DEGRADED" ? "Degraded" : health === "UNREACHABLE" ? "Unreachable" : "Not tested";
}
