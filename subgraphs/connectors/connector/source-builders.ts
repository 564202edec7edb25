// The real sources per kind (Odoo JSON-RPC, Moodle REST). Kept apart so tests can swap them.
import { RemoteError, RemoteErrorKind } from "../remote/remote.errors.js";
import type { SourceBuilders } from "./sources.js";

export const defaultSourceBuilders: SourceBuilders = {
  ODOO: () => {
    throw new RemoteError(RemoteErrorKind.UNAVAILABLE, "Odoo client not built yet");
  },
  MOODLE: () => {
    throw new RemoteError(RemoteErrorKind.UNAVAILABLE, "Moodle client not built yet");
  },
};
