import { Errors } from "../../../kernel/errors.js";

export const ConnectorErrors = {
  notFound: (id: string) => Errors.notFound("Connector", id),
  invalidName: () => Errors.badInput("name must be 1 to 200 characters", "name"),
  invalidUrl: () => Errors.badInput("baseUrl must be an absolute http(s) URL", "baseUrl"),
  invalidCredentials: (kind: string, need: string) => Errors.badInput(`${kind} credentials need ${need}`, "credentials"),
  invalidSetting: (name: string, range: string) => Errors.badInput(`settings.${name} must be ${range}`, `settings.${name}`),
  invalidAllowedCall: (call: string) => Errors.badInput(`allowedCalls: "${call.slice(0, 100)}" is not an Odoo model.method or a Moodle function name`, "allowedCalls"),
  noCredentials: (id: string) => Errors.badInput(`connector ${id} has no credentials: set them with updateConnector`, "credentials"),
};
