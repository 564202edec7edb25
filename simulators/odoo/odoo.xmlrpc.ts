// XML-RPC for /xmlrpc/2/{common,object,db}: the same dispatch as /jsonrpc in Python's xmlrpc encoding, with Odoo's
// fault codes (1 application error with the traceback, 2 UserError family, 3 AccessDenied, 4 AccessError) and
// Odoo's response layout (`<?xml version="1.0"?>`, a blank line before `</methodResponse>`).
import { OdooException, traceback } from "./odoo.errors.js";

/** A methodCall: its method name and decoded params. */
export interface XmlRpcCall {
  method: string;
  params: unknown[];
}

/** Parses a `<methodCall>`; throws on anything that is not one. */
export function parseMethodCall(xml: string): XmlRpcCall {
  const p = new Parser(xml);
  p.skipProlog();
  p.open("methodCall");
  p.open("methodName");
  const method = decodeText(p.text());
  p.close("methodName");
  const params: unknown[] = [];
  if (p.peekOpen("params")) {
    p.open("params");
    while (p.peekOpen("param")) {
      p.open("param");
      params.push(p.value());
      p.close("param");
    }
    p.close("params");
  } else if (p.peekSelfClosing("params")) {
    p.selfClosing("params");
  }
  p.close("methodCall");
  return { method, params };
}

/** A successful `<methodResponse>`. */
export function methodResponse(result: unknown): string {
  return `<?xml version="1.0"?>\n<methodResponse>\n<params>\n<param>\n${marshal(result)}</param>\n</params>\n\n</methodResponse>\n`;
}

/** A `<fault>` for an exception, with Odoo's fault code. */
export function faultResponse(err: unknown): string {
  const exc = err instanceof OdooException ? err : new OdooException("builtins.Exception", err instanceof Error ? err.message : String(err));
  let code = 1;
  let text: string;
  if (exc.pyName === "odoo.exceptions.AccessError") code = 4;
  else if (exc.pyName === "odoo.exceptions.AccessDenied") code = 3;
  else if (["odoo.exceptions.UserError", "odoo.exceptions.ValidationError", "odoo.exceptions.MissingError", "odoo.exceptions.RedirectWarning"].includes(exc.pyName)) code = 2;
  if (code === 1) text = traceback(exc, "odoo/service/model.py");
  else text = exc.message;
  return `<?xml version="1.0"?>\n<methodResponse>\n<fault>\n${marshal({ faultCode: code, faultString: text })}</fault>\n\n</methodResponse>\n`;
}

/** Python's xmlrpc.client.Marshaller output for a JSON-like value. */
export function marshal(value: unknown): string {
  if (value === null || value === undefined) return "<value><nil/></value>\n";
  if (typeof value === "boolean") return `<value><boolean>${value ? 1 : 0}</boolean></value>\n`;
  if (typeof value === "number") {
    if (Number.isInteger(value) && Math.abs(value) < 2 ** 31) return `<value><int>${value}</int></value>\n`;
    return `<value><double>${Number.isInteger(value) ? value.toFixed(1) : String(value)}</double></value>\n`;
  }
  if (typeof value === "string") return `<value><string>${escapeXml(value)}</string></value>\n`;
  if (Array.isArray(value)) return `<value><array><data>\n${value.map(marshal).join("")}</data></array></value>\n`;
  if (typeof value === "object") {
    const members = Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `<member>\n<name>${escapeXml(k)}</name>\n${marshal(v)}</member>\n`)
      .join("");
    return `<value><struct>\n${members}</struct></value>\n`;
  }
  return `<value><string>${escapeXml(String(value))}</string></value>\n`;
}

const escapeXml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function decodeText(s: string): string {
  return s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n: string) => String.fromCodePoint(parseInt(n, 16)))
    .replace(/&amp;/g, "&");
}

/** A small pull parser for the XML-RPC subset (no attributes, no CDATA, no comments inside values). */
class Parser {
  private pos = 0;
  constructor(private readonly s: string) {}

  private ws(): void {
    while (this.pos < this.s.length && /\s/.test(this.s[this.pos])) this.pos++;
  }

  skipProlog(): void {
    this.ws();
    if (this.s.startsWith("<?xml", this.pos)) {
      const end = this.s.indexOf("?>", this.pos);
      if (end < 0) throw new Error("bad XML declaration");
      this.pos = end + 2;
    }
    this.ws();
  }

  peekOpen(tag: string): boolean {
    this.ws();
    return this.s.startsWith(`<${tag}>`, this.pos);
  }

  peekSelfClosing(tag: string): boolean {
    this.ws();
    return new RegExp(`^<${tag}\\s*/>`).test(this.s.slice(this.pos, this.pos + tag.length + 8));
  }

  selfClosing(tag: string): void {
    this.ws();
    const m = new RegExp(`^<${tag}\\s*/>`).exec(this.s.slice(this.pos, this.pos + tag.length + 8));
    if (!m) throw new Error(`expected <${tag}/>`);
    this.pos += m[0].length;
  }

  open(tag: string): void {
    this.ws();
    if (!this.s.startsWith(`<${tag}>`, this.pos)) throw new Error(`expected <${tag}> at ${this.pos}`);
    this.pos += tag.length + 2;
  }

  close(tag: string): void {
    this.ws();
    if (!this.s.startsWith(`</${tag}>`, this.pos)) throw new Error(`expected </${tag}> at ${this.pos}`);
    this.pos += tag.length + 3;
  }

  /** Raw text up to the next tag. */
  text(): string {
    const end = this.s.indexOf("<", this.pos);
    if (end < 0) throw new Error("unterminated text");
    const out = this.s.slice(this.pos, end);
    this.pos = end;
    return out;
  }

  value(): unknown {
    this.ws();
    if (this.s.startsWith("<value/>", this.pos)) {
      this.pos += 8;
      return "";
    }
    this.open("value");
    // A value without a type tag is a string.
    if (this.s[this.pos] !== "<" || this.s.startsWith("</value>", this.pos)) {
      const text = decodeText(this.text());
      if (this.s.startsWith("</value>", this.pos)) {
        this.close("value");
        return text;
      }
      if (text.trim() !== "") throw new Error("mixed content in <value>");
    }
    this.ws();
    const m = /^<([a-zA-Z0-9.]+)\s*(\/?)>/.exec(this.s.slice(this.pos, this.pos + 40));
    if (!m) throw new Error(`expected a type tag at ${this.pos}`);
    const [whole, tag, selfClosed] = m;
    this.pos += whole.length;
    let out: unknown;
    if (selfClosed) {
      if (tag !== "nil") throw new Error(`unexpected <${tag}/>`);
      out = null;
    } else {
      switch (tag) {
        case "string":
          out = decodeText(this.text());
          break;
        case "int":
        case "i4":
        case "i8":
          out = parseInt(this.text().trim(), 10);
          break;
        case "boolean":
          out = this.text().trim() === "1";
          break;
        case "double":
          out = parseFloat(this.text().trim());
          break;
        case "dateTime.iso8601":
        case "base64":
          out = this.text().trim();
          break;
        case "nil":
          out = null;
          break;
        case "array": {
          const items: unknown[] = [];
          this.open("data");
          for (;;) {
            this.ws();
            if (this.s.startsWith("</data>", this.pos)) break;
            items.push(this.value());
          }
          this.close("data");
          out = items;
          break;
        }
        case "struct": {
          const obj: Record<string, unknown> = {};
          for (;;) {
            this.ws();
            if (this.s.startsWith("</struct>", this.pos)) break;
            this.open("member");
            this.open("name");
            const name = decodeText(this.text());
            this.close("name");
            obj[name] = this.value();
            this.close("member");
          }
          out = obj;
          break;
        }
        default:
          throw new Error(`unknown XML-RPC type <${tag}>`);
      }
      this.close(tag);
    }
    this.close("value");
    return out;
  }
}
