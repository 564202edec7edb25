// The real sources per kind (Odoo JSON-RPC, Moodle REST), built from a connector's URL, credentials and limits.
// Kept apart so tests can swap them.
import { createMoodleSource } from "../moodle/moodle.source.js";
import { createOdooSource } from "../odoo/odoo.source.js";
import type { SourceBuilders } from "./sources.js";

export const defaultSourceBuilders: SourceBuilders = {
  ODOO: ({ baseUrl, credentials, call, settings }) =>
    createOdooSource({ url: baseUrl, db: credentials.database, login: credentials.login, password: credentials.password, ...call, overlapSeconds: settings.overlapSeconds }),
  MOODLE: ({ baseUrl, credentials, call }) => createMoodleSource({ url: baseUrl, token: credentials.token, ...call }),
};
