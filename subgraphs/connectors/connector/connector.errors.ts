import { Errors } from "../../../kernel/errors.js";

export const ConnectorErrors = {
  notFound: (id: string) => Errors.notFound("Connector", id),
  invalidName: () => Errors.badInput("name must be 1 to 200 characters", "name"),
  invalidUrl: () => Errors.badInput("baseUrl must be an absolute http(s) URL", "baseUrl"),
};
