import { appError, ErrorCode, Errors } from "../../../kernel/errors.js";

export const RecordErrors = {
  unknownCollection: (name: string) => Errors.badInput(`Unknown collection ${name}`, "collection"),
  badCollectionName: () => Errors.badInput("name must be 1–100 letters, digits, `_`, `-` or `.`", "name"),
  collectionExists: () => Errors.conflict("A collection with this name exists", "name"),
  badSchema: (message: string) => Errors.badInput(`jsonSchema is not a valid JSON Schema: ${message}`, "jsonSchema"),
  badRetention: () => Errors.badInput("tombstoneRetentionDays must be between 1 and 3650", "tombstoneRetentionDays"),
  tooManyRows: (max: number) => Errors.badInput(`A push carries at most ${max} rows`, "rows"),
  badLimit: (max: number) => Errors.badInput(`limit must be between 1 and ${max}`, "limit"),
  badCheckpoint: () => Errors.badInput("checkpoint is not one this tenant's pull returned", "checkpoint"),
  badCollections: (max: number) => Errors.badInput(`collections must name 1 to ${max} collections`, "collections"),
  badPrimaryKey: () => Errors.badInput("primaryKey must be a field name: a letter or `_`, then letters, digits or `_` (at most 100)", "primaryKey"),
  badClientId: () => Errors.badInput("clientId must be 1–200 characters", "clientId"),
  cannotPush: (name: string) => Errors.forbidden(`Your roles do not allow pushing to ${name}`),
  cannotPull: (name: string) => Errors.forbidden(`Your roles do not allow pulling ${name}`),
  checkpointExpired: (why: string) => appError(ErrorCode.CHECKPOINT_EXPIRED, `This checkpoint can no longer be continued (${why}); pull again from the start`),
  conflictNotFound: (id: string) => Errors.notFound("Conflict", id),
  conflictResolved: () => Errors.conflict("This conflict is already resolved"),
  badResolution: (code: string, message: string) => Errors.badInput(`The resolution cannot be applied (${code}): ${message}`, "document"),
  documentRequired: () => Errors.badInput("A CUSTOM resolution needs `document`", "document"),
  recordNotFound: (collection: string, id: string) => Errors.notFound("Record", `${collection}/${id}`),
  clientNotFound: (id: string) => Errors.notFound("SyncClient", id),
  badCursor: () => Errors.badInput("after is not a cursor this list returned", "after"),
  badFirst: (max: number) => Errors.badInput(`first must be between 1 and ${max}`, "first"),
  badSearch: (max: number) => Errors.badInput(`search must be at most ${max} characters`, "search"),
  mutationIdTaken: () =>
    Errors.conflict("This clientId and mutationId were used by another user's push: use a new mutationId (its answer is not yours to read)", "mutationId"),
  mutationIdReused: () =>
    appError(ErrorCode.CONFLICT, "This clientId and mutationId were used for a different push: use a new mutationId for each new push (a retry sends the same request)", {
      field: "mutationId",
      reason: "MUTATION_ID_REUSED",
    }),
  badIdempotency: () => Errors.badInput("clientId and mutationId go together (each 1–200 characters)", "mutationId"),
};
