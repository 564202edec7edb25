import { Errors } from "../../../kernel/errors.js";

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
  badIdempotency: () => Errors.badInput("clientId and mutationId go together (each 1–200 characters)", "mutationId"),
};
