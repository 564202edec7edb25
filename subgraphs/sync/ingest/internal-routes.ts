// The sync service's internal API for the connectors service (never routed by the gateway; service secret
// required): open a connector run in the sync log, report its progress, and write its records. Bodies are checked
// with zod; answers are JSON; a refused body is 400 with the reason, an unknown run or collection 404. Outbound
// write-back reads a collection's changes through POST /changes (connector-changes.ts).
import express, { type Express, type Request, type Response } from "express";
import type { MikroORM } from "@mikro-orm/postgresql";
import { GraphQLError } from "graphql";
import type { Logger } from "pino";
import { z } from "zod";
import { requireInternalCaller } from "../../../kernel/internal-auth.js";
import type { PubSub } from "../../../kernel/pubsub/pubsub.js";
import { forkForTenant } from "../../../kernel/tenancy.js";
import type { RecordsService } from "../records/records.service.js";
import { SyncRunActorType, SyncRunKind, SyncRunStatus, type SyncRun } from "../sync-log/sync-run.entity.js";
import type { SyncRunService } from "../sync-log/sync-run.service.js";
import { connectorChanges, MAX_CHANGES } from "./connector-changes.js";
import { IngestError, ingestConnectorRecords, MAX_INGEST_RECORDS } from "./connector-ingest.js";

export const CONNECTOR_RUNS_PATH = "/internal/connector-runs";

const uuid = z.uuid();
const count = z.number().int().min(0).optional();
const runError = z.object({
  recordId: z.string().max(200).nullish(),
  collection: z.string().max(100).nullish(),
  code: z.string().min(1).max(100),
  message: z.string().min(1).max(2000),
});

const startBody = z.object({
  /** The run's id, chosen by the caller (a retried call finds the run it already opened). */
  id: uuid,
  tenantId: uuid,
  connectorId: uuid,
  /** Who started it: a user (`triggeredById`), an API key, or the connector itself (schedule, webhook). */
  actorType: z.enum([SyncRunActorType.USER, SyncRunActorType.API_KEY, SyncRunActorType.CONNECTOR]),
  actorId: uuid.nullish(),
  collections: z.array(z.string().min(1).max(100)).max(50),
  parameters: z.record(z.string(), z.unknown()),
});

const progressBody = z.object({
  tenantId: uuid,
  status: z.enum(SyncRunStatus).optional(),
  processed: count,
  created: count,
  updated: count,
  deleted: count,
  failed: count,
  rejected: count,
  currentModel: z.string().max(200).nullish(),
  errors: z.array(runError).max(100).optional(),
  error: z.string().max(2000).nullish(),
});

const recordsBody = z.object({
  tenantId: uuid,
  collection: z.string().min(1).max(100),
  upserts: z.array(z.object({ id: z.string(), data: z.record(z.string(), z.unknown()), isNew: z.boolean().optional() })).max(MAX_INGEST_RECORDS),
  deletes: z.array(z.string()).max(MAX_INGEST_RECORDS),
  dryRun: z.boolean().optional(),
  force: z.boolean().optional(),
});

/** Outbound: a collection's changes after a position (connector-changes.ts). */
const changesBody = z.object({
  tenantId: uuid,
  collection: z.string().min(1).max(100),
  after: z.string().max(40).nullable(),
  limit: z.number().int().min(1).max(MAX_CHANGES),
});

/** What the connectors service sees of a run. */
export const runView = (run: SyncRun) => ({
  id: run.id,
  status: run.status,
  processed: run.processed,
  created: run.created,
  updated: run.updated,
  deleted: run.deleted,
  failed: run.failed,
  errorCount: run.errorCount,
});

export function mountConnectorRunRoutes(
  app: Express,
  deps: { orm: MikroORM; secret: string; syncRuns: () => SyncRunService; records: () => RecordsService; pubsub: PubSub; logger: Logger },
): void {
  const router = express.Router();
  router.use(requireInternalCaller(deps.secret), express.json({ limit: "32mb" }));

  router.post("/", handle(startBody, async (body) => {
    const em = forkForTenant(deps.orm, body.tenantId);
    const run = await deps.syncRuns().startInternal(em, {
      id: body.id,
      tenantId: body.tenantId,
      kind: SyncRunKind.CONNECTOR,
      connectorId: body.connectorId,
      actorType: body.actorType,
      actorId: body.actorId ?? null,
      collections: body.collections,
      parameters: body.parameters,
    });
    return runView(run);
  }));

  router.post("/:id/progress", handle(progressBody, async (body, req) => {
    const em = forkForTenant(deps.orm, body.tenantId);
    const { tenantId: _t, ...input } = body;
    return runView(await deps.syncRuns().progress(em, String(req.params.id), input));
  }));

  router.post("/:id/records", handle(recordsBody, async (body, req) => {
    return ingestConnectorRecords(deps.orm, deps.records(), deps.pubsub, deps.logger, { ...body, runId: String(req.params.id) });
  }));

  router.post("/changes", handle(changesBody, async (body) => connectorChanges(deps.orm, deps.records(), body)));

  app.use(CONNECTOR_RUNS_PATH, router);

  function handle<S extends z.ZodType>(schema: S, fn: (body: z.infer<S>, req: Request) => Promise<unknown>) {
    return async (req: Request, res: Response) => {
      const parsed = schema.safeParse(req.body);
      if (!parsed.success) {
        res.status(400).json({ code: "BAD_USER_INPUT", error: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") });
        return;
      }
      try {
        res.json(await fn(parsed.data, req));
      } catch (err) {
        if (err instanceof IngestError) {
          res.status(err.code === "NOT_FOUND" ? 404 : 400).json({ code: err.code, error: err.message });
          return;
        }
        if (err instanceof GraphQLError && typeof err.extensions.code === "string") {
          const code = err.extensions.code;
          res.status(code === "NOT_FOUND" ? 404 : code === "BAD_USER_INPUT" ? 400 : 409).json({ code, error: err.message });
          return;
        }
        deps.logger.error({ err, path: req.path }, "internal connector-run call failed");
        res.status(503).json({ code: "INTERNAL_SERVER_ERROR", error: "not stored" });
      }
    };
  }
}
