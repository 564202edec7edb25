// The models the simulator serves, declared like Odoo 18 declares them (base, contacts, sale): fields with their types,
// labels and relations, `_order`, access rights per group, record methods, and the few behaviours the transcript shows
// (sale orders that refuse deletion once confirmed, partners that take their draft orders with them).
import { OdooErrors } from "./odoo.errors.js";

export type FieldType =
  | "char"
  | "text"
  | "html"
  | "boolean"
  | "integer"
  | "float"
  | "monetary"
  | "date"
  | "datetime"
  | "selection"
  | "many2one"
  | "one2many"
  | "many2many"
  | "many2one_reference"
  | "binary";

/** A stored row: internal values (many2one as an id or false, datetimes as epoch microseconds, x2many as ids). */
export type Row = { id: number } & Record<string, unknown>;

/** What model hooks may ask of the store. */
export interface ModelHost {
  row(model: string, id: number): Row | undefined;
  /** Ids of `model` whose many2one `field` points at `id`. */
  referrers(model: string, field: string, id: number): readonly number[];
  displayName(model: string, id: number): string;
}

export interface FieldDef {
  type: FieldType;
  string: string;
  required?: boolean;
  readonly?: boolean;
  /** Target model of relational fields. */
  relation?: string;
  /** one2many: the many2one on `relation` pointing back. */
  inverse?: string;
  /** many2one: what deleting the target does (Odoo's default: `set null`, `restrict` when required). */
  ondelete?: "set null" | "restrict" | "cascade";
  selection?: [string, string][];
  /** Computed at read time (not stored); searchable and sortable through the same function. */
  compute?: (row: Row, host: ModelHost) => unknown;
  /** Default for create, given the call's environment. */
  default?: (env: { uid: number; now: number; nextSequence: () => number }) => unknown;
  /** Never returned as stored (res.users.password reads as ''). */
  writeOnly?: boolean;
}

export interface Acl {
  read: number[];
  write: number[];
  create: number[];
  unlink: number[];
}

export interface ModelDef {
  name: string;
  /** `_description` (used in access-error messages). */
  description: string;
  /** `_order`. */
  order: string;
  recName: string;
  fields: Record<string, FieldDef>;
  /** Group ids allowed per operation (Odoo's ir.model.access). */
  acl: Acl;
  /** Extra public record methods (`action_confirm`): mutate the rows, return the RPC result. */
  methods?: Record<string, (ids: number[], host: ModelHost & { setFields(ids: number[], vals: Record<string, unknown>): void }) => unknown>;
  displayName?: (row: Row, host: ModelHost) => string;
  /** Raise before an unlink is applied (sale.order in state 'sale'). */
  checkUnlink?: (rows: Row[], host: ModelHost) => void;
  /** Records of other models to delete first (sale: a partner's draft and cancelled orders). */
  cascadeBeforeUnlink?: (ids: number[], host: ModelHost) => { model: string; ids: number[] }[];
  /** `_rec_names_search`: fields name_search looks at. */
  nameSearchFields?: string[];
}

/** Group ids, as seeded (base.group_user is id 1 in a fresh Odoo 18 database). */
export const GROUP = {
  USER: 1,
  ERP_MANAGER: 2,
  SYSTEM: 3,
  PARTNER_MANAGER: 4,
  SALESMAN: 5,
  PORTAL: 6,
  PUBLIC: 7,
} as const;

export const GROUP_NAMES: Record<number, string> = {
  [GROUP.USER]: "User types/Internal User",
  [GROUP.ERP_MANAGER]: "Administration/Access Rights",
  [GROUP.SYSTEM]: "Administration/Settings",
  [GROUP.PARTNER_MANAGER]: "Extra Rights/Contact Creation",
  [GROUP.SALESMAN]: "Sales/User: Own Documents Only",
  [GROUP.PORTAL]: "User types/Portal",
  [GROUP.PUBLIC]: "User types/Public",
};

const acl = (read: number[], write: number[], create = write, unlink = write): Acl => ({ read, write, create, unlink });

const TZ: [string, string][] = [
  ["Europe/Brussels", "Europe/Brussels"],
  ["Europe/Paris", "Europe/Paris"],
  ["America/New_York", "America/New_York"],
  ["Asia/Kolkata", "Asia/Kolkata"],
  ["UTC", "UTC"],
];

/** Fields every model has (Odoo's magic columns). */
function magicFields(): Record<string, FieldDef> {
  return {
    id: { type: "integer", string: "ID", readonly: true },
    display_name: { type: "char", string: "Display Name", readonly: true, compute: () => undefined },
    create_date: { type: "datetime", string: "Created on", readonly: true },
    create_uid: { type: "many2one", string: "Created by", relation: "res.users", readonly: true },
    write_date: { type: "datetime", string: "Last Updated on", readonly: true },
    write_uid: { type: "many2one", string: "Last Updated by", relation: "res.users", readonly: true },
  };
}

const partnerCompleteName = (row: Row, host: ModelHost): string => {
  const name = typeof row.name === "string" ? row.name : "";
  if (row.parent_id && !row.is_company) {
    const parent = host.row("res.partner", row.parent_id as number);
    const parentName = parent && typeof parent.name === "string" ? parent.name : "";
    return parentName ? (name ? `${parentName}, ${name}` : parentName) : name;
  }
  return name;
};

function defineModels(): ModelDef[] {
  const models: ModelDef[] = [
    {
      name: "res.partner",
      description: "Contact",
      order: "complete_name ASC, id DESC",
      recName: "complete_name",
      nameSearchFields: ["complete_name", "email", "ref", "vat"],
      acl: acl([GROUP.USER, GROUP.PORTAL, GROUP.PUBLIC], [GROUP.PARTNER_MANAGER]),
      displayName: partnerCompleteName,
      fields: {
        name: { type: "char", string: "Name" },
        complete_name: { type: "char", string: "Complete Name", readonly: true, compute: partnerCompleteName },
        email: { type: "char", string: "Email" },
        phone: { type: "char", string: "Phone" },
        mobile: { type: "char", string: "Mobile" },
        website: { type: "char", string: "Website Link" },
        comment: { type: "html", string: "Notes" },
        function: { type: "char", string: "Job Position" },
        street: { type: "char", string: "Street" },
        street2: { type: "char", string: "Street2" },
        city: { type: "char", string: "City" },
        zip: { type: "char", string: "Zip" },
        country_id: { type: "many2one", string: "Country", relation: "res.country", ondelete: "restrict" },
        tz: { type: "selection", string: "Timezone", selection: TZ },
        lang: { type: "selection", string: "Language", selection: [["en_US", "English (US)"]], default: () => "en_US" },
        user_id: { type: "many2one", string: "Salesperson", relation: "res.users" },
        parent_id: { type: "many2one", string: "Related Company", relation: "res.partner" },
        child_ids: { type: "one2many", string: "Contact", relation: "res.partner", inverse: "parent_id" },
        category_id: { type: "many2many", string: "Tags", relation: "res.partner.category" },
        company_id: { type: "many2one", string: "Company", relation: "res.company" },
        title: { type: "many2one", string: "Title", relation: "res.partner.title" },
        is_company: { type: "boolean", string: "Is a Company", default: () => false },
        active: { type: "boolean", string: "Active", default: () => true },
        type: {
          type: "selection",
          string: "Address Type",
          selection: [
            ["contact", "Contact"],
            ["invoice", "Invoice Address"],
            ["delivery", "Delivery Address"],
            ["other", "Other Address"],
          ],
          default: () => "contact",
        },
        ref: { type: "char", string: "Reference" },
        vat: { type: "char", string: "Tax ID" },
        company_name: { type: "char", string: "Company Name" },
        color: { type: "integer", string: "Color Index", default: () => 0 },
        customer_rank: { type: "integer", string: "Customer Rank", default: () => 0 },
        supplier_rank: { type: "integer", string: "Supplier Rank", default: () => 0 },
        user_ids: { type: "one2many", string: "Users", relation: "res.users", inverse: "partner_id" },
        sale_order_ids: { type: "one2many", string: "Sales Order", relation: "sale.order", inverse: "partner_id" },
      },
      cascadeBeforeUnlink: (ids, host) => {
        // sale overrides res.partner.unlink: draft and cancelled orders go with the partner; confirmed ones block it.
        const orders: number[] = [];
        for (const id of ids) {
          for (const orderId of host.referrers("sale.order", "partner_id", id)) {
            const order = host.row("sale.order", orderId);
            if (order && (order.state === "draft" || order.state === "cancel")) orders.push(orderId);
          }
        }
        return orders.length ? [{ model: "sale.order", ids: orders }] : [];
      },
    },
    {
      name: "res.country",
      description: "Country",
      order: "name",
      recName: "name",
      nameSearchFields: ["name", "code"],
      acl: acl([GROUP.USER, GROUP.PORTAL, GROUP.PUBLIC], [GROUP.SYSTEM]),
      fields: {
        name: { type: "char", string: "Country Name", required: true },
        code: { type: "char", string: "Country Code" },
        phone_code: { type: "integer", string: "Country Calling Code", default: () => 0 },
        currency_id: { type: "many2one", string: "Currency", relation: "res.currency" },
      },
    },
    {
      name: "res.currency",
      description: "Currency",
      order: "active desc, name",
      recName: "name",
      acl: acl([GROUP.USER, GROUP.PORTAL, GROUP.PUBLIC], [GROUP.SYSTEM]),
      fields: {
        name: { type: "char", string: "Currency", required: true },
        symbol: { type: "char", string: "Symbol", required: true },
        rounding: { type: "float", string: "Rounding Factor", default: () => 0.01 },
        decimal_places: { type: "integer", string: "Decimal Places", default: () => 2 },
        active: { type: "boolean", string: "Active", default: () => true },
      },
    },
    {
      name: "res.company",
      description: "Companies",
      order: "sequence, name",
      recName: "name",
      acl: acl([GROUP.USER, GROUP.PORTAL, GROUP.PUBLIC], [GROUP.ERP_MANAGER]),
      fields: {
        name: { type: "char", string: "Company Name", required: true },
        sequence: { type: "integer", string: "Sequence", default: () => 10 },
        partner_id: { type: "many2one", string: "Partner", relation: "res.partner", required: true, ondelete: "restrict" },
        currency_id: { type: "many2one", string: "Currency", relation: "res.currency", required: true, default: () => 1 },
        email: { type: "char", string: "Email" },
        phone: { type: "char", string: "Phone" },
        active: { type: "boolean", string: "Active", default: () => true },
      },
    },
    {
      name: "res.users",
      description: "User",
      order: "name, login",
      recName: "name",
      nameSearchFields: ["name", "login"],
      acl: acl([GROUP.USER], [GROUP.ERP_MANAGER]),
      fields: {
        name: { type: "char", string: "Name" },
        login: { type: "char", string: "Login", required: true },
        password: { type: "char", string: "Password", writeOnly: true },
        partner_id: { type: "many2one", string: "Related Partner", relation: "res.partner", required: true, ondelete: "restrict" },
        email: { type: "char", string: "Email" },
        active: { type: "boolean", string: "Active", default: () => true },
        groups_id: { type: "many2many", string: "Groups", relation: "res.groups" },
        company_id: { type: "many2one", string: "Company", relation: "res.company", required: true, default: () => 1 },
        share: { type: "boolean", string: "Share User", readonly: true, default: () => false },
      },
    },
    {
      name: "res.groups",
      description: "Access Groups",
      order: "name",
      recName: "full_name",
      acl: acl([GROUP.USER], [GROUP.ERP_MANAGER]),
      fields: {
        name: { type: "char", string: "Name", required: true },
        full_name: { type: "char", string: "Group Name", readonly: true },
      },
    },
    {
      name: "ir.model.data",
      description: "Model Data",
      order: "module, model, name",
      recName: "name",
      acl: acl([GROUP.USER], [GROUP.SYSTEM]),
      fields: {
        name: { type: "char", string: "External Identifier", required: true },
        module: { type: "char", string: "Module", required: true },
        model: { type: "char", string: "Model Name", required: true },
        res_id: { type: "many2one_reference", string: "Record ID" },
        noupdate: { type: "boolean", string: "Non Updatable", default: () => false },
      },
    },
    {
      name: "ir.config_parameter",
      description: "System Parameter",
      order: "key",
      recName: "key",
      acl: acl([GROUP.SYSTEM], [GROUP.SYSTEM]),
      fields: {
        key: { type: "char", string: "Key", required: true },
        value: { type: "text", string: "Value", required: true },
      },
    },
    {
      name: "res.partner.category",
      description: "Partner Tags",
      order: "name",
      recName: "name",
      acl: acl([GROUP.USER], [GROUP.PARTNER_MANAGER]),
      fields: {
        name: { type: "char", string: "Name", required: true },
        color: { type: "integer", string: "Color", default: () => 0 },
        parent_id: { type: "many2one", string: "Parent Category", relation: "res.partner.category", ondelete: "cascade" },
        active: { type: "boolean", string: "Active", default: () => true },
      },
    },
    {
      name: "res.partner.title",
      description: "Partner Title",
      order: "name",
      recName: "name",
      acl: acl([GROUP.USER], [GROUP.PARTNER_MANAGER]),
      fields: {
        name: { type: "char", string: "Title", required: true },
        shortcut: { type: "char", string: "Abbreviation" },
      },
    },
    {
      name: "product.product",
      description: "Product Variant",
      order: "default_code, name, id",
      recName: "name",
      nameSearchFields: ["name", "default_code", "barcode"],
      acl: acl([GROUP.USER, GROUP.PORTAL], [GROUP.SALESMAN]),
      displayName: (row) => (row.default_code ? `[${String(row.default_code)}] ${String(row.name || "")}` : String(row.name || "")),
      fields: {
        name: { type: "char", string: "Name", required: true },
        default_code: { type: "char", string: "Internal Reference" },
        barcode: { type: "char", string: "Barcode" },
        list_price: { type: "float", string: "Sales Price", default: () => 1.0 },
        standard_price: { type: "float", string: "Cost", default: () => 0 },
        type: {
          type: "selection",
          string: "Product Type",
          selection: [
            ["consu", "Goods"],
            ["service", "Service"],
            ["combo", "Combo"],
          ],
          default: () => "consu",
        },
        sale_ok: { type: "boolean", string: "Can be Sold", default: () => true },
        description_sale: { type: "text", string: "Sales Description" },
        active: { type: "boolean", string: "Active", default: () => true },
      },
    },
    {
      name: "sale.order",
      description: "Sales Order",
      order: "date_order desc, id desc",
      recName: "name",
      acl: acl([GROUP.SALESMAN], [GROUP.SALESMAN]),
      fields: {
        name: {
          type: "char",
          string: "Order Reference",
          required: true,
          default: ({ nextSequence }) => `S${String(nextSequence()).padStart(5, "0")}`,
        },
        partner_id: { type: "many2one", string: "Customer", relation: "res.partner", required: true, ondelete: "restrict" },
        state: {
          type: "selection",
          string: "Status",
          selection: [
            ["draft", "Quotation"],
            ["sent", "Quotation Sent"],
            ["sale", "Sales Order"],
            ["cancel", "Cancelled"],
          ],
          default: () => "draft",
        },
        date_order: {
          type: "datetime",
          string: "Order Date",
          required: true,
          // fields.Datetime.now(): seconds precision.
          default: ({ now }) => Math.floor(now / 1_000_000) * 1_000_000,
        },
        validity_date: { type: "date", string: "Expiration" },
        client_order_ref: { type: "char", string: "Customer Reference" },
        note: { type: "html", string: "Terms and conditions" },
        user_id: { type: "many2one", string: "Salesperson", relation: "res.users", default: ({ uid }) => uid },
        company_id: { type: "many2one", string: "Company", relation: "res.company", required: true, default: () => 1 },
        currency_id: { type: "many2one", string: "Currency", relation: "res.currency", default: () => 1 },
        order_line: { type: "one2many", string: "Order Lines", relation: "sale.order.line", inverse: "order_id" },
        amount_untaxed: { type: "monetary", string: "Untaxed Amount", readonly: true, compute: (row, host) => orderTotal(row, host) },
        amount_tax: { type: "monetary", string: "Taxes", readonly: true, compute: () => 0 },
        amount_total: { type: "monetary", string: "Total", readonly: true, compute: (row, host) => orderTotal(row, host) },
      },
      methods: {
        action_confirm: (ids, host) => {
          for (const id of ids) {
            const row = host.row("sale.order", id);
            if (row && row.state !== "draft" && row.state !== "sent") {
              throw OdooErrors.userError("Some orders are not in a state requiring confirmation.");
            }
          }
          host.setFields(ids, { state: "sale" });
          return true;
        },
        action_cancel: (ids, host) => {
          host.setFields(ids, { state: "cancel" });
          return true;
        },
        action_draft: (ids, host) => {
          host.setFields(ids, { state: "draft" });
          return true;
        },
      },
      checkUnlink: (rows) => {
        if (rows.some((r) => r.state !== "draft" && r.state !== "cancel")) {
          throw OdooErrors.userError("You can not delete a sent quotation or a confirmed sales order. You must first cancel it.");
        }
      },
    },
    {
      name: "sale.order.line",
      description: "Sales Order Line",
      order: "order_id, sequence, id",
      recName: "name",
      acl: acl([GROUP.SALESMAN], [GROUP.SALESMAN]),
      fields: {
        order_id: { type: "many2one", string: "Order Reference", relation: "sale.order", required: true, ondelete: "cascade" },
        sequence: { type: "integer", string: "Sequence", default: () => 10 },
        product_id: { type: "many2one", string: "Product", relation: "product.product", ondelete: "restrict" },
        name: { type: "text", string: "Description" },
        product_uom_qty: { type: "float", string: "Quantity", default: () => 1 },
        price_unit: { type: "float", string: "Unit Price", default: () => 0 },
        price_subtotal: {
          type: "monetary",
          string: "Subtotal",
          readonly: true,
          compute: (row) => round2(Number(row.product_uom_qty || 0) * Number(row.price_unit || 0)),
        },
      },
    },
    {
      name: "mail.message",
      description: "Message",
      order: "id desc",
      recName: "subject",
      acl: acl([GROUP.USER], [GROUP.USER]),
      fields: {
        subject: { type: "char", string: "Subject" },
        body: { type: "html", string: "Contents" },
        model: { type: "char", string: "Related Document Model" },
        res_id: { type: "many2one_reference", string: "Related Document ID" },
        message_type: {
          type: "selection",
          string: "Type",
          selection: [
            ["email", "Incoming Email"],
            ["comment", "Comment"],
            ["notification", "System notification"],
          ],
          default: () => "comment",
        },
        author_id: { type: "many2one", string: "Author", relation: "res.partner" },
      },
    },
  ];
  for (const model of models) model.fields = { ...magicFields(), ...model.fields };
  return models;
}

function orderTotal(row: Row, host: ModelHost): number {
  let total = 0;
  for (const lineId of host.referrers("sale.order.line", "order_id", row.id)) {
    const line = host.row("sale.order.line", lineId);
    if (line) total += Number(line.product_uom_qty || 0) * Number(line.price_unit || 0);
  }
  return round2(total);
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

/** The model registry of one simulator (fresh definitions per store: hooks close over nothing shared). */
export function createModelRegistry(): Map<string, ModelDef> {
  return new Map(defineModels().map((m) => [m.name, m]));
}

/** Odoo's default `ondelete` for a many2one. */
export function ondeleteOf(field: FieldDef): "set null" | "restrict" | "cascade" {
  return field.ondelete ?? (field.required ? "restrict" : "set null");
}
