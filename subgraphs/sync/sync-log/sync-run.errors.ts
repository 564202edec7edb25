import { appError, ErrorCode, Errors } from "../../../kernel/errors.js";

export const SyncRunErrors = {
  notFound: (id: string) => Errors.notFound("SyncRun", id),
  finished: (id: string, status: string) =>
    appError(ErrorCode.CONFLICT, `SyncRun ${id} is already ${status}`, { id, status }),
  connectorNotFound: (id: string) => Errors.notFound("Connector", id),
  connectorMalformed: (field = "connectorId") => Errors.badInput(`${field} must be a connector id (a UUID)`, field),
  connectorRequired: () => Errors.badInput("connectorId is required for CONNECTOR runs", "connectorId"),
  countBackwards: (field: string) => Errors.badInput(`${field} cannot decrease or be negative`, field),
  badTransition: (from: string, to: string) => Errors.badInput(`cannot move a run from ${from} to ${to}`, "status"),
  pageSize: (max: number) => Errors.badInput(`first must be between 1 and ${max}`, "first"),
  badCursor: () => Errors.badInput("after is not a cursor from this list", "after"),
  badActor: () => Errors.badInput("actorId must be a user id (a UUID)", "actorId"),
  badClientId: (field = "clientId") => Errors.badInput(`${field} must be 1 to 200 characters`, field),
  badRange: () => Errors.badInput("from must not be later than to", "from"),
  tooManyBuckets: (max: number, bucket: string) =>
    Errors.badInput(`the range spans more than ${max} ${bucket.toLowerCase()} buckets; narrow it or use a larger bucket`, "to"),
  badCollections: (max: number) =>
    Errors.badInput(`collections must be at most ${max} names of 1 to 100 letters, digits, '_', '-' or '.'`, "collections"),
  parametersTooLarge: (max: number) => Errors.badInput(`parameters must be at most ${max} bytes of JSON`, "parameters"),
  tooManyErrors: (max: number) => Errors.badInput(`at most ${max} errors per report`, "errors"),
  badError: () => Errors.badInput("each error needs a code (1 to 100 characters) and a message (1 to 2000 characters)", "errors"),
};
