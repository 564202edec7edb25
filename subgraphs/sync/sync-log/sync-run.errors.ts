import { appError, ErrorCode, Errors } from "../../../kernel/errors.js";

export const SyncRunErrors = {
  notFound: (id: string) => Errors.notFound("SyncRun", id),
  finished: (id: string, status: string) =>
    appError(ErrorCode.CONFLICT, `SyncRun ${id} is already ${status}`, { id, status }),
  connectorNotFound: (id: string) => Errors.notFound("Connector", id),
  connectorMalformed: () => Errors.badInput("connectorId must be a connector id (a UUID)", "connectorId"),
  connectorRequired: () => Errors.badInput("connectorId is required for CONNECTOR runs", "connectorId"),
  countBackwards: (field: string) => Errors.badInput(`${field} cannot decrease or be negative`, field),
  badTransition: (from: string, to: string) => Errors.badInput(`cannot move a run from ${from} to ${to}`, "status"),
  limit: (max: number) => Errors.badInput(`limit must be between 1 and ${max}`, "limit"),
};
