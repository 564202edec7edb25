// How Moodle 4.5 formats text on output, as its web services apply it (see README.md, "Text on output", for which
// function and field goes through which). Sources (Moodle 4.5.5+, server/moodle at 58d5db67 of
// maiphuongbrt9a1/Moodle452):
//   - lib/external/classes/util.php: `\core_external\util::format_string` / `format_text` return the stored value
//     untouched when the call asked for raw text (`moodlewssettingraw=1`, webservice/lib.php
//     set_web_service_call_settings), else call weblib's format_string / format_text.
//   - lib/classes/formatting.php `format_string` (escape=true, filters off in web services, `formatstringstriptags`
//     on by default): `&` not followed by `[a-zA-Z0-9#]{1,8};` becomes `&amp;` (weblib
//     replace_ampersands_not_followed_by_entity), then strip_tags, then `<` → `&lt;` and `>` → `&gt;`. Quotes stay.
//   - formatting.php `format_text`: FORMAT_HTML is cleaned by HTMLPurifier (allowed tags kept, text-node `&`, `<`,
//     `>` escaped, quotes kept), FORMAT_PLAIN goes through s() (htmlspecialchars ENT_QUOTES) and nl2br, FORMAT_MOODLE
//     through text_to_html (nl2br) and the cleaner; the answer's format is then FORMAT_HTML (1). Empty text is
//     returned empty with its stored format.

export const FORMAT_MOODLE = 0;
export const FORMAT_HTML = 1;
export const FORMAT_PLAIN = 2;
export const FORMAT_MARKDOWN = 4;

/** weblib replace_ampersands_not_followed_by_entity. */
export function replaceAmpersandsNotFollowedByEntity(s: string): string {
  return s.replace(/&(?![a-zA-Z0-9#]{1,8};)/g, "&amp;");
}

/**
 * PHP's strip_tags (no allowed tags): `<` followed by whitespace (or at the end) is text; any other `<` opens a tag
 * that runs to the next `>` outside quotes (or to the end of the string); a stray `>` is text.
 */
export function phpStripTags(s: string): string {
  let out = "";
  let i = 0;
  while (i < s.length) {
    const ch = s[i]!;
    if (ch !== "<") {
      out += ch;
      i++;
      continue;
    }
    const next = s[i + 1];
    if (next === undefined || /\s/.test(next)) {
      out += ch;
      i++;
      continue;
    }
    // Inside a tag (or a comment / processing instruction): skip to its end.
    i++;
    let quote: string | null = null;
    while (i < s.length) {
      const c = s[i]!;
      if (quote) {
        if (c === quote) quote = null;
      } else if (c === '"' || c === "'") quote = c;
      else if (c === ">") break;
      i++;
    }
    i++; // past the '>'
  }
  return out;
}

/** weblib format_string as web services call it (escape on, filters off, strip tags on: Moodle's defaults). */
export function formatString(s: string | null | undefined): string {
  if (s === null || s === undefined || s === "") return "";
  const amp = replaceAmpersandsNotFollowedByEntity(s);
  return phpStripTags(amp).replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** weblib s(): htmlspecialchars(ENT_QUOTES | ENT_HTML401 | ENT_SUBSTITUTE), numeric entities left alone. */
export function s(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#039;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/&amp;#(\d+|x[0-9a-f]+);/gi, "&#$1;");
}

const nl2br = (text: string) => text.replace(/(\r\n|\n\r|\n|\r)/g, "<br />$1");

/**
 * What HTMLPurifier does to the text around tags, closely enough for plain content: tags (`<name ...>`, `</name>`,
 * comments) are kept, script/style elements dropped; in text, `&` not starting an entity, `<` and `>` are escaped.
 */
function cleanHtml(html: string): string {
  const noScripts = html.replace(/<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, "");
  let out = "";
  const tag = /<\/?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?\/?>|<!--[\s\S]*?-->/g;
  let last = 0;
  for (const m of noScripts.matchAll(tag)) {
    out += escapeText(noScripts.slice(last, m.index));
    out += m[0];
    last = m.index! + m[0].length;
  }
  return out + escapeText(noScripts.slice(last));
}

const escapeText = (t: string) => replaceAmpersandsNotFollowedByEntity(t).replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** `\core_external\util::format_text` without raw: [formatted text, its format]. */
export function formatText(text: string | null | undefined, format: number): [string, number] {
  if (text === null || text === undefined || text === "") return ["", format ?? FORMAT_MOODLE];
  switch (format) {
    case FORMAT_PLAIN:
      return [nl2br(s(text)), FORMAT_HTML];
    case FORMAT_MOODLE:
      return [cleanHtml(nl2br(text)), FORMAT_HTML];
    default:
      // FORMAT_HTML, FORMAT_MARKDOWN (markdown conversion not reproduced) and unknown formats.
      return [cleanHtml(text), FORMAT_HTML];
  }
}

/** The web service call's external settings (only `raw` changes what the simulator answers). */
export interface ExternalSettings {
  /** `moodlewssettingraw`: util::format_string / format_text return the stored value (and its format). */
  raw: boolean;
  /**
   * `moodlewssettingfileurl` (default on): util::format_text rewrites `@@PLUGINFILE@@/` to the web service file URL
   * (`<wwwroot>/webservice/pluginfile.php/<contextid>/<component>/<filearea>/`) — even when raw is asked for.
   */
  fileurl: boolean;
  /** The site's wwwroot (for file URLs). */
  wwwroot: string;
}

/** The file area of a formatted text (util::format_text's context, component, filearea; item ids are not used here). */
export interface FileArea {
  contextid: number;
  component: string;
  filearea: string;
}

/** `\core_external\util::format_string`. */
export const externalFormatString = (settings: ExternalSettings, value: string | null | undefined): string =>
  settings.raw ? (value ?? "") : formatString(value);

/** `\core_external\util::format_text`. */
export function externalFormatText(settings: ExternalSettings, text: string | null | undefined, format: number, files?: FileArea): [string, number] {
  if (text === null || text === undefined || text === "") return ["", format ?? FORMAT_MOODLE];
  // file_rewrite_pluginfile_urls comes first, whatever raw says (lib/external/classes/util.php).
  const rewritten =
    files && settings.fileurl
      ? text.replaceAll("@@PLUGINFILE@@/", `${settings.wwwroot}/webservice/pluginfile.php/${files.contextid}/${files.component}/${files.filearea}/`)
      : text;
  return settings.raw ? [rewritten, format] : formatText(rewritten, format);
}
