// The Python exceptions an Odoo 18 server raises through its RPC layer, as the simulator reproduces them: the class name
// (`data.name` of the error envelope) and the message, worded like the real server's (see the recorded transcript).

/** An exception raised while serving a call; the RPC layer turns it into Odoo's error envelope. */
export class OdooException extends Error {
  constructor(
    /** Fully qualified Python class (`odoo.exceptions.AccessError`, `builtins.ValueError`, `psycopg2.errors....`). */
    readonly pyName: string,
    message: string,
    /** JSON-RPC error code: 200 for server errors, 100 for an expired session. */
    readonly code = 200,
  ) {
    super(message);
    this.name = "OdooException";
  }

  /** The class name as a traceback prints it (`builtins.` is implicit in Python). */
  get shortName(): string {
    return this.pyName.startsWith("builtins.") ? this.pyName.slice("builtins.".length) : this.pyName;
  }
}

export const OdooErrors = {
  accessDenied: () => new OdooException("odoo.exceptions.AccessDenied", "Access Denied"),
  accessError: (message: string) => new OdooException("odoo.exceptions.AccessError", message),
  privateMethod: (name: string) =>
    new OdooException("odoo.exceptions.AccessError", `Private methods (such as ${name}) cannot be called remotely.`),
  userError: (message: string) => new OdooException("odoo.exceptions.UserError", message),
  unknownModel: (model: string) => new OdooException("odoo.exceptions.UserError", `Object ${model} doesn't exist`),
  validation: (message: string) => new OdooException("odoo.exceptions.ValidationError", message),
  missing: (model: string, ids: readonly unknown[], uid: number) =>
    new OdooException(
      "odoo.exceptions.MissingError",
      `Record does not exist or has been deleted.\n(Record: ${model}${pyTuple(ids.slice(0, 6))}, User: ${uid})`,
    ),
  valueError: (message: string) => new OdooException("builtins.ValueError", message),
  typeError: (message: string) => new OdooException("builtins.TypeError", message),
  keyError: (key: string) => new OdooException("builtins.KeyError", key),
  attributeError: (method: string, model: string) =>
    new OdooException("builtins.AttributeError", `The method '${method}' does not exist on the model '${model}'`),
  methodNotFound: (method: string) => new OdooException("builtins.Exception", `Method not found: ${method}`),
  invalidField: (field: string, model: string) =>
    new OdooException("builtins.ValueError", `Invalid field ${pyRepr(field)} on model ${pyRepr(model)}`),
  unknownDatabase: (db: string) =>
    new OdooException(
      "psycopg2.OperationalError",
      `connection to server at "127.0.0.1", port 5432 failed: FATAL:  database "${db}" does not exist\n`,
    ),
  /** A value PostgreSQL cannot cast (`invalid input syntax for type integer: "abc"`), with psql's context line. */
  invalidInput: (sqlType: "integer" | "timestamp" | "date" | "double precision" | "boolean", value: string, sqlContext: string) =>
    new OdooException(
      sqlType === "timestamp" || sqlType === "date" ? "psycopg2.errors.InvalidDatetimeFormat" : "psycopg2.errors.InvalidTextRepresentation",
      `invalid input syntax for type ${sqlType}: "${value}"\nLINE 1: ...${sqlContext}...\n${" ".repeat(11)}^\n`,
    ),
  sessionExpired: () => new OdooException("odoo.http.SessionExpiredException", "Session expired", 100),
  /** NOT NULL violation, as Odoo 18 words it (`_as_validation_error`). */
  mandatoryField: (modelLabel: string, model: string, fieldLabel: string, field: string) =>
    new OdooException(
      "odoo.exceptions.ValidationError",
      "The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n" +
        "- Delete: another model requires the record being deleted. If possible, archive it instead.\n\n" +
        `Model: ${modelLabel} (${model})\nField: ${fieldLabel} (${field})\n`,
    ),
  /** Foreign-key violation, as Odoo 18 words it. */
  foreignKey: (modelLabel: string, model: string, constraint: string) =>
    new OdooException(
      "odoo.exceptions.ValidationError",
      "The operation cannot be completed: another model requires the record being deleted. If possible, archive it instead.\n\n" +
        `Model: ${modelLabel} (${model})\nConstraint: ${constraint}\n`,
    ),
};

/** Python's `repr` of a JSON value (strings in single quotes, True/False/None), for messages that quote inputs. */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : String(value);
  if (typeof value === "string") {
    if (value.includes("'") && !value.includes('"')) return `"${value.replace(/\\/g, "\\\\")}"`;
    return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'").replace(/\n/g, "\\n")}'`;
  }
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(", ")}]`;
  if (typeof value === "object") {
    return `{${Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`)
      .join(", ")}}`;
  }
  return String(value);
}

/** Python's repr of a tuple: `(9,)`, `(9, 10)`. */
export function pyTuple(values: readonly unknown[]): string {
  return values.length === 1 ? `(${pyRepr(values[0])},)` : `(${values.map(pyRepr).join(", ")})`;
}

/** The `debug` member of an error envelope: a short, Python-shaped traceback ending with the exception line. */
export function traceback(err: OdooException, where: string): string {
  return (
    "Traceback (most recent call last):\n" +
    `  File "<odoo-simulator>/odoo/http.py", line 1954, in _transactioning\n    return service_model.retrying(func, env=self.env)\n` +
    `  File "<odoo-simulator>/${where}", line 1, in dispatch\n` +
    `${err.shortName}: ${err.message}\n`
  );
}
