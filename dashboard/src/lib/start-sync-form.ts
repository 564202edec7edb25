// The Start sync dialog's options, validated before anything is sent, with the rules startSync applies on the server
// (subgraphs/connectors/jobs/run.service.ts checkOptions): batchSize 1–5,000, maxRecords 1–10,000,000, since in the
// past and not with full, models among the connector's enabled INBOUND/BOTH mappings.
import { z } from "zod";
import type { StartSyncOptions } from "../__generated__/graphql.js";

export const MAX_BATCH_SIZE = 5_000;
export const DEFAULT_BATCH_SIZE = 500;
export const MAX_RECORDS = 10_000_000;

/** The form as typed (strings from inputs). */
export interface StartSyncFormValues {
  full: boolean;
  dryRun: boolean;
  force: boolean;
  /** `datetime-local` value (the browser's zone), empty for none */
  since: string;
  maxRecords: string;
  batchSize: string;
  models: string[];
}

export type StartSyncFieldErrors = Partial<Record<keyof StartSyncFormValues, string>>;

export const emptyStartSyncForm = (models: string[]): StartSyncFormValues => ({
  full: false,
  dryRun: false,
  force: false,
  since: "",
  maxRecords: "",
  batchSize: "",
  models,
});

const wholeNumber = (label: string, min: number, max: number) =>
  z
    .string()
    .trim()
    .transform((s, ctx) => {
      if (s === "") return null;
      if (!/^\d+$/.test(s.replace(/[ ,_]/g, ""))) {
        ctx.addIssue({ code: "custom", message: `${label} must be a whole number` });
        return z.NEVER;
      }
      const n = Number(s.replace(/[ ,_]/g, ""));
      if (n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `${label} must be ${min.toLocaleString()} to ${max.toLocaleString()}` });
        return z.NEVER;
      }
      return n;
    });

function schemaFor(availableModels: readonly string[], now: number) {
  return z.object({
    full: z.boolean(),
    dryRun: z.boolean(),
    force: z.boolean(),
    since: z
      .string()
      .trim()
      .transform((s, ctx) => {
        if (s === "") return null;
        const t = new Date(s); // datetime-local: the browser's time zone
        if (Number.isNaN(t.getTime())) {
          ctx.addIssue({ code: "custom", message: "Since must be a date and time" });
          return z.NEVER;
        }
        if (t.getTime() > now) {
          ctx.addIssue({ code: "custom", message: "Since must be in the past" });
          return z.NEVER;
        }
        return t.toISOString();
      }),
    maxRecords: wholeNumber("Max records", 1, MAX_RECORDS),
    batchSize: wholeNumber("Batch size", 1, MAX_BATCH_SIZE),
    models: z
      .array(z.string())
      .min(1, "Choose at least one model")
      .refine((ms) => ms.every((m) => availableModels.includes(m)), "Unknown model"),
  });
}

/** Checks across fields, made even when single fields are wrong too, so every problem shows at once. */
function crossFieldErrors(values: StartSyncFormValues): StartSyncFieldErrors {
  const errors: StartSyncFieldErrors = {};
  if (values.full && values.since.trim()) errors.since = "Since cannot be combined with a full run (a full run reads everything)";
  return errors;
}

export type StartSyncValidation = { ok: true; options: StartSyncOptions } | { ok: false; errors: StartSyncFieldErrors };

/** Checks the form; on success the exact options to send (defaults left out, so the server applies its own). */
export function validateStartSync(values: StartSyncFormValues, availableModels: readonly string[], now = Date.now()): StartSyncValidation {
  if (!availableModels.length) return { ok: false, errors: { models: "This connector has no enabled inbound mapping to run" } };
  const parsed = schemaFor(availableModels, now).safeParse(values);
  const errors = crossFieldErrors(values);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const field = issue.path[0] as keyof StartSyncFormValues | undefined;
      if (field && !errors[field]) errors[field] = issue.message;
    }
  }
  if (!parsed.success || Object.keys(errors).length) return { ok: false, errors };
  const v = parsed.data;
  const options: StartSyncOptions = {};
  if (v.full) options.full = true;
  if (v.dryRun) options.dryRun = true;
  if (v.force) options.force = true;
  if (v.since) options.since = v.since;
  if (v.maxRecords !== null) options.maxRecords = v.maxRecords;
  if (v.batchSize !== null) options.batchSize = v.batchSize;
  // Every model: leave it to the server's default (every enabled inbound mapping), so the run's parameters say so.
  if (v.models.length < availableModels.length) options.models = v.models;
  return { ok: true, options };
}
