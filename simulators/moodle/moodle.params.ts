// Moodle's external parameter descriptions (external_value / external_single_structure / external_multiple_structure)
// and `external_api::validate_parameters`, as 4.5 applies them to the PHP arrays a REST request decodes to:
// a missing required key, an unexpected key, or a value that `clean_param` would change are all
// `invalid_parameter_exception` ("Invalid parameter value detected"), with the reason only in debug info, nested as
// `key => <inner message>: <inner debuginfo>` like the real server builds it.
import { phpStripTags } from "./moodle.text.js";
import { MoodleErrors, MoodleException } from "./moodle.errors.js";

/** The PARAM_* constants' values (they appear verbatim in debug info: `the server was expecting "int" type`). */
export type ParamType =
  | "int"
  | "float"
  | "bool"
  | "raw"
  | "raw_trimmed"
  | "text"
  | "notags"
  | "username"
  | "email"
  | "plugin"
  | "component"
  | "alpha"
  | "alphaext"
  | "alphanumext"
  | "safedir"
  | "sequence"
  | "timezone"
  | "lang"
  | "auth"
  | "theme";

export const VALUE_REQUIRED = 1;
export const VALUE_OPTIONAL = 2;
export const VALUE_DEFAULT = 0;
type Requirement = typeof VALUE_REQUIRED | typeof VALUE_OPTIONAL | typeof VALUE_DEFAULT;

export interface ExternalValue {
  kind: "value";
  type: ParamType;
  required: Requirement;
  default?: unknown;
}
export interface ExternalSingle {
  kind: "single";
  keys: Record<string, ExternalDescription>;
  required: Requirement;
  default?: unknown;
}
export interface ExternalMultiple {
  kind: "multiple";
  content: ExternalDescription;
  required: Requirement;
  default?: unknown;
}
export type ExternalDescription = ExternalValue | ExternalSingle | ExternalMultiple;

export const value = (type: ParamType, required: Requirement = VALUE_REQUIRED, def?: unknown): ExternalValue => ({
  kind: "value",
  type,
  required,
  default: def,
});
export const optional = (type: ParamType): ExternalValue => value(type, VALUE_OPTIONAL);
export const withDefault = (type: ParamType, def: unknown): ExternalValue => value(type, VALUE_DEFAULT, def);
export const single = (keys: Record<string, ExternalDescription>, required: Requirement = VALUE_REQUIRED, def?: unknown): ExternalSingle => ({
  kind: "single",
  keys,
  required,
  default: def,
});
export const multiple = (content: ExternalDescription, required: Requirement = VALUE_REQUIRED, def?: unknown): ExternalMultiple => ({
  kind: "multiple",
  content,
  required,
  default: def,
});

const INSTALLED_AUTHS = new Set(["manual", "nologin", "email", "webservice", "ldap", "oauth2", "db", "lti", "mnet", "none", "shibboleth", "cas"]);
const INSTALLED_THEMES = new Set(["boost", "classic"]);
const INSTALLED_LANGS = new Set(["en"]);

/** Moodle's validate_email (the PHPMailer pattern, close enough for what clients send). */
export function isValidEmail(address: string): boolean {
  return /^[-!#$%&'*+/0-9=?A-Z^_`a-z{|}~]+(\.[-!#$%&'*+/0-9=?A-Z^_`a-z{|}~]+)*@[-!#$%&'*+/0-9=?A-Z^_`a-z{|}~]+(\.[-!#$%&'*+/0-9=?A-Z^_`a-z{|}~]+)+$/.test(
    address,
  ) && address.length <= 254;
}

const isPluginName = (s: string) => /^[a-z](?:[a-z0-9_](?!__))*[a-z0-9]+$/.test(s);

/**
 * `clean_param($value, $type)` for a string from the request: what Moodle would turn it into. `validate_param` then
 * refuses the value unless the cleaned form, as a string, is identical to what was sent.
 */
export function cleanParam(raw: string, type: ParamType): string | number | boolean {
  switch (type) {
    case "int": {
      // PHP (int) cast: leading integer part, 0 when none.
      const m = /^\s*([+-]?\d+)/.exec(raw);
      const n = m ? Number.parseInt(m[1]!, 10) : 0;
      return Number.isFinite(n) ? n : 0;
    }
    case "float": {
      const n = Number.parseFloat(raw);
      return Number.isFinite(n) ? n : 0;
    }
    case "bool": {
      const t = raw.toLowerCase();
      if (t === "on" || t === "yes" || t === "true") return 1;
      if (t === "off" || t === "no" || t === "false") return 0;
      return raw === "" || raw === "0" ? 0 : 1;
    }
    case "raw":
      return raw;
    case "raw_trimmed":
      return raw.trim();
    case "text":
    case "notags":
      // strip_tags (PARAM_TEXT keeps well-formed multilang <lang>/<span lang> markup, not reproduced).
      return phpStripTags(raw);
    case "username": {
      const lowered = raw.trim().toLowerCase().replace(/ /g, "");
      return lowered.replace(/[^-.@_a-z0-9]/g, "");
    }
    case "email":
      return raw === "" || isValidEmail(raw) ? raw : "";
    case "plugin":
    case "component":
      return raw === "" || isPluginName(raw) ? raw : "";
    case "alpha":
      return raw.replace(/[^a-zA-Z]/g, "");
    case "alphaext":
      return raw.replace(/[^a-zA-Z/_-]/g, "");
    case "alphanumext":
      return raw.replace(/[^a-zA-Z0-9_-]/g, "");
    case "safedir":
      return raw.replace(/[^a-zA-Z0-9_-]/g, "");
    case "sequence":
      return raw.replace(/[^0-9,]/g, "");
    case "timezone":
      return /^(([+-]?(0?[0-9](\.[50])?|1[0-3](\.0)?|1[0-2]\.5))|(99)|[A-Za-z0-9]+(\/?[A-Za-z0-9_+-]+)+)$/.test(raw) ? raw : "UTC";
    case "lang":
      return INSTALLED_LANGS.has(raw) ? raw : "";
    case "auth":
      return isPluginName(raw) && INSTALLED_AUTHS.has(raw) ? raw : "";
    case "theme":
      return INSTALLED_THEMES.has(raw) ? raw : "";
  }
}

export const installed = { auths: INSTALLED_AUTHS, themes: INSTALLED_THEMES, langs: INSTALLED_LANGS };

type PhpArray = Record<string, unknown> | unknown[];
const isPhpArray = (v: unknown): v is PhpArray => typeof v === "object" && v !== null;

/** `print_r` of what a client sent where an array was expected (for the debug info). */
const printR = (v: unknown) => (isPhpArray(v) ? "Array" : String(v));

/**
 * `external_api::validate_parameters`: returns the cleaned, typed value (ints as numbers, bools as booleans, defaults
 * filled) or throws MoodleException invalidparameter. `debug` shapes nested messages as the real server does.
 */
export function validateParameters(desc: ExternalDescription, params: unknown, debug: boolean): unknown {
  switch (desc.kind) {
    case "value": {
      if (isPhpArray(params)) throw MoodleErrors.invalidParameter("Scalar type expected, array or object received.");
      if (params === null || params === undefined) {
        // Only defaults can be null here (requests carry strings): NULL_NOT_ALLOWED unless the default is null.
        if (desc.default === null) return null;
        throw MoodleErrors.invalidParameter(`Invalid external api parameter: the value is "", the server was expecting "${desc.type}" type`);
      }
      if (typeof params === "boolean" || typeof params === "number") {
        // Defaults declared in code come typed.
        return desc.type === "bool" ? Boolean(params) : params;
      }
      const raw = String(params);
      if (desc.type === "bool" && (raw === "0" || raw === "1")) return raw === "1";
      const debuginfo = `Invalid external api parameter: the value is "${raw}", the server was expecting "${desc.type}" type`;
      const cleaned = cleanParam(raw, desc.type);
      if (desc.type === "float") {
        if (!/^[+-]?[0-9]*\.?[0-9]*(e[-+]?[0-9]+)?$/i.test(raw) || raw === "") throw MoodleErrors.invalidParameter(debuginfo);
        return cleaned;
      }
      if (String(cleaned) !== raw) throw MoodleErrors.invalidParameter(debuginfo);
      return desc.type === "bool" ? Boolean(cleaned) : cleaned;
    }
    case "single": {
      if (!isPhpArray(params)) {
        throw MoodleErrors.invalidParameter(`Only arrays accepted. The bad value is: '${printR(params)}'`);
      }
      const rest: Record<string, unknown> = { ...(params as Record<string, unknown>) };
      const result: Record<string, unknown> = {};
      for (const [key, sub] of Object.entries(desc.keys)) {
        if (!Object.prototype.hasOwnProperty.call(rest, key)) {
          if (sub.required === VALUE_REQUIRED) {
            throw MoodleErrors.invalidParameter(`Missing required key in single structure: ${key}`);
          }
          if (sub.required === VALUE_DEFAULT) result[key] = nested(key, () => validateParameters(sub, sub.default, debug), debug);
        } else {
          result[key] = nested(key, () => validateParameters(sub, rest[key], debug), debug);
        }
        delete rest[key];
      }
      const extra = Object.keys(rest);
      if (extra.length) throw MoodleErrors.invalidParameter(`Unexpected keys (${extra.join(", ")}) detected in parameter array.`);
      return result;
    }
    case "multiple": {
      if (!isPhpArray(params)) {
        throw MoodleErrors.invalidParameter(`Only arrays accepted. The bad value is: '${printR(params)}'`);
      }
      const items = Array.isArray(params) ? params : Object.values(params);
      return items.map((item) => validateParameters(desc.content, item, debug));
    }
  }
}

function nested(key: string, fn: () => unknown, debug: boolean): unknown {
  try {
    return fn();
  } catch (err) {
    if (err instanceof MoodleException && err.errorcode === "invalidparameter") {
      throw MoodleErrors.invalidParameter(`${key} => ${err.messageFor(debug)}: ${err.debuginfo ?? ""}`);
    }
    throw err;
  }
}
