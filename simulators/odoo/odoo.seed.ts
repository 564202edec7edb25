// Data of a fresh Odoo 18 database (base + contacts + sale, no demo data) laid out with the ids the recorded transcript
// shows (partners 1-6 and users 1-5 exist, base.group_user is res.groups 1 with xmlid row 5), and deterministic bulk
// data: the same seed gives the same records, 100,000 partners in well under a second.
import { prng } from "../kit.js";
import { GROUP, GROUP_NAMES } from "./odoo.models.js";
import type { CallEnv, OdooStore } from "./odoo.store.js";

export interface SeedOptions {
  /** PRNG seed (default 1): the same seed, counts and clock give the same data. */
  seed?: number;
  partners?: number;
  products?: number;
  orders?: number;
  /** Share of seeded partners that are archived (active=false), default 0.02. */
  archivedRatio?: number;
  /**
   * Seeded write_dates spread over this many seconds before now (default: one second per 20 records), with sub-second
   * jitter so that, within a second, write_date order is not id order (as in a real database).
   */
  spreadSeconds?: number;
}

export const SEED_COUNTRIES: [string, string, number][] = [
  ["Argentina", "AR", 54],
  ["Australia", "AU", 61],
  ["Austria", "AT", 43],
  ["Belgium", "BE", 32],
  ["Brazil", "BR", 55],
  ["Canada", "CA", 1],
  ["China", "CN", 86],
  ["Denmark", "DK", 45],
  ["Finland", "FI", 358],
  ["France", "FR", 33],
  ["Germany", "DE", 49],
  ["India", "IN", 91],
  ["Ireland", "IE", 353],
  ["Italy", "IT", 39],
  ["Japan", "JP", 81],
  ["Kenya", "KE", 254],
  ["Mexico", "MX", 52],
  ["Morocco", "MA", 212],
  ["Netherlands", "NL", 31],
  ["New Zealand", "NZ", 64],
  ["Nigeria", "NG", 234],
  ["Norway", "NO", 47],
  ["Poland", "PL", 48],
  ["Portugal", "PT", 351],
  ["South Africa", "ZA", 27],
  ["Spain", "ES", 34],
  ["Sweden", "SE", 46],
  ["Switzerland", "CH", 41],
  ["United Kingdom", "GB", 44],
  ["United States", "US", 1],
];

const FIRST = ["Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Karl", "Laura", "Mallory", "Nina", "Oscar", "Peggy", "Quentin", "Rita", "Sybil", "Trent", "Ursula", "Victor", "Wendy", "Xavier", "Yara", "Zoe", "Amir", "Bea", "Chen", "Dara", "Emeka", "Fatima", "Goran", "Hana", "Ines", "Jonas", "Kofi", "Lena", "Mateo", "Noor"];
const LAST = ["Smith", "Jones", "Garcia", "Martin", "Dubois", "Peeters", "Janssens", "Rossi", "Müller", "Schmidt", "Novak", "Kowalski", "Silva", "Santos", "Nguyen", "Tanaka", "Kim", "Singh", "Patel", "Okafor", "Mensah", "Haddad", "Cohen", "Larsen", "Nielsen", "Virtanen", "Murphy", "Walsh", "Brown", "Wilson", "Taylor", "Moreau", "Lambert", "Fontaine", "Bianchi", "Romano", "Ferreira", "Costa", "Ivanova", "Horvat"];
const COMPANY_SUFFIX = ["Logistics", "Consulting", "Foods", "Textiles", "Robotics", "Energy", "Labs", "Partners", "Trading", "Systems"];
const CITIES = ["Brussels", "Antwerp", "Ghent", "Paris", "Lyon", "Berlin", "Munich", "Madrid", "Lisbon", "Rome", "Dublin", "London", "Amsterdam", "Oslo", "Nairobi", "Lagos", "Mumbai", "Tokyo", "Toronto", "Austin"];
const STREETS = ["Main Street", "Station Road", "Rue Neuve", "Kerkstraat", "Hauptstraße", "Via Roma", "Calle Mayor", "High Street"];
const PRODUCT_ADJ = ["Large", "Small", "Ergonomic", "Wooden", "Steel", "Compact", "Deluxe", "Eco", "Smart", "Classic"];
const PRODUCT_NOUN = ["Desk", "Chair", "Cabinet", "Lamp", "Shelf", "Table", "Drawer", "Monitor Stand", "Whiteboard", "Sofa"];

export { prng };

const pick = <T>(rand: () => number, list: readonly T[]): T => list[Math.floor(rand() * list.length)];

/** The fresh database: currencies, company, the six base partners, five users, groups, xmlids, parameters, countries. */
export function seedBase(store: OdooStore, base: { now: number; adminPassword: string; apiKey: string; baseUrl: string }): void {
  const env: CallEnv = { uid: 1, now: base.now };
  const create = (model: string, vals: Record<string, unknown>[]) => store.createRecords(model, vals, env);

  create("res.groups", Object.entries(GROUP_NAMES).map(([, full]) => ({ name: full.split("/").pop(), full_name: full })));
  create("res.currency", [
    { name: "USD", symbol: "$" },
    { name: "EUR", symbol: "€", active: false },
  ]);
  create("res.partner", [{ name: "My Company", is_company: true, email: "info@yourcompany.com" }]);
  create("res.company", [{ name: "My Company", partner_id: 1, currency_id: 1, email: "info@yourcompany.com" }]);
  store.setFields("res.partner", [1], { company_id: 1 });
  create("res.partner", [
    { name: "OdooBot", email: "odoobot@example.com", active: false },
    { name: "Administrator", email: "admin@yourcompany.example.com", company_id: 1 },
    { name: "Public user", active: false, company_id: 1 },
    { name: "Default User Template", active: false },
    { name: "Portal User Template", active: false },
  ]);
  create("res.users", [
    { name: "OdooBot", login: "__system__", partner_id: 2, active: false, groups_id: [GROUP.USER] },
    { name: "Administrator", login: "admin", partner_id: 3, groups_id: [GROUP.USER, GROUP.ERP_MANAGER, GROUP.SYSTEM, GROUP.PARTNER_MANAGER, GROUP.SALESMAN] },
    { name: "Public user", login: "public", partner_id: 4, active: false, groups_id: [GROUP.PUBLIC] },
    { name: "Default User Template", login: "default", partner_id: 5, active: false, groups_id: [GROUP.USER] },
    { name: "Portal User Template", login: "portaltemplate", partner_id: 6, active: false, groups_id: [GROUP.PORTAL] },
  ]);
  store.credentials.set(1, { password: false, apiKeys: [] });
  store.credentials.set(2, { password: base.adminPassword, apiKeys: [base.apiKey] });
  create("ir.model.data", [
    { module: "base", name: "main_company", model: "res.company", res_id: 1, noupdate: true },
    { module: "base", name: "main_partner", model: "res.partner", res_id: 1, noupdate: true },
    { module: "base", name: "partner_root", model: "res.partner", res_id: 2 },
    { module: "base", name: "partner_admin", model: "res.partner", res_id: 3 },
    { module: "base", name: "group_user", model: "res.groups", res_id: GROUP.USER },
    { module: "base", name: "user_root", model: "res.users", res_id: 1 },
    { module: "base", name: "user_admin", model: "res.users", res_id: 2 },
    { module: "base", name: "group_erp_manager", model: "res.groups", res_id: GROUP.ERP_MANAGER },
    { module: "base", name: "group_system", model: "res.groups", res_id: GROUP.SYSTEM },
    { module: "base", name: "group_partner_manager", model: "res.groups", res_id: GROUP.PARTNER_MANAGER },
    { module: "sales_team", name: "group_sale_salesman", model: "res.groups", res_id: GROUP.SALESMAN },
    { module: "base", name: "group_portal", model: "res.groups", res_id: GROUP.PORTAL },
    { module: "base", name: "group_public", model: "res.groups", res_id: GROUP.PUBLIC },
    { module: "base", name: "USD", model: "res.currency", res_id: 1 },
    { module: "base", name: "EUR", model: "res.currency", res_id: 2 },
  ]);
  create("ir.config_parameter", [
    { key: "web.base.url", value: base.baseUrl || "http://localhost:8069" },
    { key: "database.uuid", value: "8f1c3c52-5f3a-4f0e-9d7e-5f0b6b0c0d01" },
  ]);
  const countryIds = create(
    "res.country",
    SEED_COUNTRIES.map(([name, code, phone]) => ({ name, code, phone_code: phone, currency_id: code === "US" ? 1 : false })),
  );
  create(
    "ir.model.data",
    SEED_COUNTRIES.map(([, code], i) => ({ module: "base", name: code.toLowerCase(), model: "res.country", res_id: countryIds[i], noupdate: true })),
  );
  create("res.partner.title", [
    { name: "Doctor", shortcut: "Dr." },
    { name: "Madam", shortcut: "Mrs." },
    { name: "Miss", shortcut: false },
    { name: "Mister", shortcut: "Mr." },
    { name: "Professor", shortcut: "Prof." },
  ]);
}

/** Timeline of seeded write_dates: spread before `now`, jittered within the second. */
function timeline(n: number, now: number, options: SeedOptions, rand: () => number): (i: number) => { created: number; written: number } {
  const spread = Math.max(1, options.spreadSeconds ?? Math.ceil(n / 20)) * 1_000_000;
  const start = now - spread;
  return (i) => {
    const created = start + Math.floor((i * spread) / Math.max(1, n));
    const written = Math.min(now, created + Math.floor(rand() * 1_000_000));
    return { created, written };
  };
}

export function seedPartners(store: OdooStore, options: SeedOptions, now: number): number {
  const n = options.partners ?? 0;
  const rand = prng((options.seed ?? 1) * 7919 + 1);
  const env: CallEnv = { uid: 2, now };
  const blank = store.blankRow("res.partner", env);
  const countries = store.ids("res.country");
  const archived = options.archivedRatio ?? 0.02;
  const when = timeline(n, now, options, rand);
  const firstId = store.peekNextId("res.partner");
  const companies: number[] = [];
  const rows: Record<string, unknown>[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const id = firstId + i;
    const isCompany = i % 10 === 0;
    const first = pick(rand, FIRST);
    const last = pick(rand, LAST);
    const name = isCompany ? `${last} ${pick(rand, COMPANY_SUFFIX)}` : `${first} ${last}`;
    const parent = !isCompany && companies.length && rand() < 0.4 ? pick(rand, companies) : false;
    const { created, written } = when(i);
    rows[i] = {
      name,
      is_company: isCompany,
      email: `${(isCompany ? last : `${first}.${last}`).toLowerCase()}.${id}@example.com`,
      phone: rand() < 0.7 ? `+1 555 ${String(Math.floor(rand() * 10000)).padStart(4, "0")}` : false,
      street: `${1 + Math.floor(rand() * 200)} ${pick(rand, STREETS)}`,
      city: pick(rand, CITIES),
      zip: String(1000 + Math.floor(rand() * 9000)),
      country_id: countries.length ? pick(rand, countries) : false,
      parent_id: parent,
      function: !isCompany && rand() < 0.3 ? pick(rand, ["Sales Manager", "Buyer", "CEO", "Accountant", "Engineer"]) : false,
      customer_rank: rand() < 0.5 ? 1 : 0,
      active: rand() >= archived,
      create_date: created,
      write_date: written,
      create_uid: 2,
      write_uid: 2,
    };
    if (isCompany) companies.push(id);
  }
  store.insertRawBulk("res.partner", rows, blank);
  return n;
}

export function seedProducts(store: OdooStore, options: SeedOptions, now: number): number {
  const n = options.products ?? 0;
  const rand = prng((options.seed ?? 1) * 104729 + 2);
  const env: CallEnv = { uid: 2, now };
  const blank = store.blankRow("product.product", env);
  const when = timeline(n, now, options, rand);
  const firstId = store.peekNextId("product.product");
  const rows: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const { created, written } = when(i);
    rows.push({
      name: `${pick(rand, PRODUCT_ADJ)} ${pick(rand, PRODUCT_NOUN)}`,
      default_code: `FURN_${String(firstId + i).padStart(4, "0")}`,
      list_price: Math.round((5 + rand() * 495) * 100) / 100,
      standard_price: Math.round((2 + rand() * 200) * 100) / 100,
      type: rand() < 0.8 ? "consu" : "service",
      active: true,
      create_date: created,
      write_date: written,
      create_uid: 2,
      write_uid: 2,
    });
  }
  store.insertRawBulk("product.product", rows, blank);
  return n;
}

export function seedOrders(store: OdooStore, options: SeedOptions, now: number): number {
  const n = options.orders ?? 0;
  const rand = prng((options.seed ?? 1) * 15485863 + 3);
  const partners = store.ids("res.partner", { active: true });
  const products = store.ids("product.product", { active: true });
  if (!partners.length) return 0;
  const env: CallEnv = { uid: 2, now };
  const blank = store.blankRow("sale.order", env);
  const blankLine = store.blankRow("sale.order.line", env);
  const when = timeline(n, now, options, rand);
  const firstId = store.peekNextId("sale.order");
  const orders: Record<string, unknown>[] = [];
  const lines: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const { created, written } = when(i);
    const r = rand();
    orders.push({
      name: `S${String(store.nextSequence("sale.order")).padStart(5, "0")}`,
      partner_id: pick(rand, partners),
      state: r < 0.4 ? "draft" : r < 0.9 ? "sale" : "cancel",
      date_order: Math.floor(created / 1_000_000) * 1_000_000,
      create_date: created,
      write_date: written,
      create_uid: 2,
      write_uid: 2,
    });
    const count = products.length ? 1 + Math.floor(rand() * 3) : 0;
    for (let l = 0; l < count; l++) {
      const productId = pick(rand, products);
      const product = store.row("product.product", productId)!;
      lines.push({
        order_id: firstId + i,
        product_id: productId,
        name: product.name,
        product_uom_qty: 1 + Math.floor(rand() * 10),
        price_unit: product.list_price,
        create_date: created,
        write_date: written,
        create_uid: 2,
        write_uid: 2,
      });
    }
  }
  store.insertRawBulk("sale.order", orders, blank);
  if (lines.length) store.insertRawBulk("sale.order.line", lines, blankLine);
  return n;
}
