/**
 * txt-1 and txt-2 on every Narrative (`text.div`, also in contained resources and Bundle entries): the div is
 * well-formed XHTML (parsed by saxes, a strict namespace-aware XML parser: no HTML entities such as `&nbsp;`, as
 * FHIR requires), its root is a `<div>` in the XHTML namespace, it holds only the basic HTML elements and
 * attributes FHIR allows, and it has some content. A narrative is shown by every EHR that reads the record, so
 * what could run or load something there is refused: scripts, objects, frames, forms, event (`on*`) attributes,
 * `javascript:`-style URLs, style sheets that fetch (`url(...)`, `expression(...)`). Links (`<a href>`) may point
 * anywhere a browser navigates to only when clicked (http, https, mailto, fragments, relative); images
 * (`<img src>`) are the one external reference loaded by showing the narrative, as the spec allows.
 * @see https://hl7.org/fhir/R4/narrative.html#xhtml
 * @see https://hl7.org/fhir/R4/narrative.html (txt-1, txt-2)
 */
import { SaxesParser, type SaxesAttributeNS, type SaxesTagNS } from 'saxes';
import type { OperationOutcomeIssue } from 'fhir/r4';
import { pointerToFhirPath } from './ajv-issues.js';

export const XHTML_NS = 'http://www.w3.org/1999/xhtml';

/** HTML 4.0 chapters 7-11 and 15 (bar 9.4), `<a>`, images: the element list of the FHIR validator's txt-1 check. */
const ELEMENTS = new Set([
  'p', 'br', 'div', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'a', 'span', 'b', 'em', 'i', 'strong', 'small', 'big', 'tt', 'dfn', 'q', 'var',
  'abbr', 'acronym', 'cite', 'blockquote', 'hr', 'address', 'bdo', 'kbd', 'sub', 'sup', 'ul', 'ol', 'li', 'dl', 'dt', 'dd', 'pre',
  'table', 'caption', 'colgroup', 'col', 'thead', 'tr', 'tfoot', 'tbody', 'th', 'td', 'code', 'samp', 'img', 'map', 'area', 'u', 's', 'strike',
  'center', 'font', 'ins', 'del',
]);

/** Attributes any allowed element may carry (core, i18n, presentation of HTML 4 chapters 7-11 and 15). */
const COMMON_ATTRIBUTES = new Set([
  'title', 'style', 'class', 'id', 'lang', 'dir', 'accesskey', 'tabindex', 'align', 'valign', 'width', 'height', 'span', 'char',
  'charoff', 'abbr', 'axis', 'headers', 'scope', 'rowspan', 'colspan', 'summary', 'border', 'frame', 'rules', 'cellspacing',
  'cellpadding', 'bgcolor', 'nowrap', 'type', 'start', 'value', 'compact', 'clear', 'noshade', 'size', 'color', 'face', 'datetime',
  'cite', 'name', 'alt', 'longdesc', 'usemap', 'ismap', 'shape', 'coords', 'nohref', 'hspace', 'vspace', 'rel', 'rev', 'hreflang', 'charset',
]);

/** Attributes that hold a URL, by element: checked for a scheme that runs code. */
const URL_ATTRIBUTES: Record<string, string[]> = { a: ['href'], area: ['href'], img: ['src'] };

/** Elements the narrative page names as forbidden, for a clearer message than "not allowed". */
const ACTIVE_CONTENT = new Set(['script', 'object', 'embed', 'applet', 'iframe', 'frame', 'frameset', 'form', 'input', 'button', 'select', 'textarea', 'style', 'link', 'base', 'meta', 'head', 'body', 'html', 'svg', 'math']);

/** Schemes a link may use; an image may also be `data:image/...`. Anything else (javascript:, vbscript:, data:text/html) is refused. */
const LINK_SCHEMES = new Set(['http', 'https', 'mailto', 'tel', 'urn']);

/** Bound on a narrative's size: the R4 limit on a string (datatypes.html: strings SHALL NOT exceed 1 MB). */
export const MAX_NARRATIVE_CHARS = 1024 * 1024;

function urlProblem(element: string, attribute: string, value: string): string | undefined {
  const v = value.trim();
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(v)?.[1]?.toLowerCase();
  if (!scheme) return undefined; // relative or a fragment (#contained-id)
  if (LINK_SCHEMES.has(scheme)) return undefined;
  if (element === 'img' && attribute === 'src' && /^data:image\/(png|gif|jpeg|webp|bmp)[;,]/i.test(v)) return undefined;
  return `${element}/@${attribute} uses the '${scheme}:' scheme, which a narrative may not (allowed: ${[...LINK_SCHEMES].join(', ')}, relative or #fragment${element === 'img' ? ', data:image/...' : ''})`;
}

const NO_CONTENT = 'the narrative has no content: it needs some text or an image';

/** Problems of one XHTML narrative div (empty when it is acceptable). */
export function narrativeProblems(div: string): string[] {
  if (div.length > MAX_NARRATIVE_CHARS) return [`the narrative is longer than ${MAX_NARRATIVE_CHARS} characters`];
  const problems: string[] = [];
  let depth = 0;
  let content = false;
  let rootSeen = false;
  const parser = new SaxesParser({ xmlns: true });
  parser.on('error', (e) => {
    throw e;
  });
  parser.on('doctype', () => problems.push('a narrative may not hold a DOCTYPE'));
  parser.on('processinginstruction', () => problems.push('a narrative may not hold processing instructions'));
  parser.on('text', (t) => {
    if (depth > 0 && t.trim() !== '') content = true;
  });
  parser.on('cdata', (t) => {
    if (t.trim() !== '') content = true;
  });
  parser.on('opentag', (tag: SaxesTagNS) => {
    depth++;
    const name = tag.local;
    if (!rootSeen) {
      rootSeen = true;
      if (name !== 'div' || tag.uri !== XHTML_NS) problems.push(`the narrative must be a <div> in the XHTML namespace (${XHTML_NS}), found <${tag.name}>${tag.uri ? ` in ${tag.uri}` : ' without a namespace'}`);
    } else if (tag.uri !== XHTML_NS) {
      problems.push(`<${tag.name}> is not XHTML (namespace ${tag.uri || 'none'})`);
      return;
    }
    if (ACTIVE_CONTENT.has(name)) problems.push(`<${name}> is not allowed in a narrative (no scripts, objects, frames, forms, style sheets or document structure)`);
    else if (!ELEMENTS.has(name)) problems.push(`<${name}> is not one of the basic HTML elements a narrative may use`);
    if (name === 'img') content = true;
    for (const a of Object.values(tag.attributes) as SaxesAttributeNS[]) {
      const attr = a.local.toLowerCase();
      if (a.prefix === 'xmlns' || a.name === 'xmlns') continue;
      if (a.prefix === 'xml' && (a.local === 'lang' || a.local === 'space')) continue;
      if (attr.startsWith('on')) {
        problems.push(`<${name}> carries the event attribute ${a.name}: a narrative may not run code`);
        continue;
      }
      if (a.prefix && a.prefix !== 'xml') {
        problems.push(`<${name}> carries ${a.name}: attributes from other namespaces (xlink and the like) are not allowed`);
        continue;
      }
      const urlAttrs = URL_ATTRIBUTES[name] ?? [];
      if (urlAttrs.includes(attr)) {
        const p = urlProblem(name, attr, a.value);
        if (p) problems.push(p);
        continue;
      }
      if (!COMMON_ATTRIBUTES.has(attr)) {
        problems.push(`<${name}> carries the attribute ${a.name}, which a narrative may not use`);
        continue;
      }
      if (attr === 'style' && /url\s*\(|expression\s*\(|@import|behavior\s*:|-moz-binding/i.test(a.value)) {
        problems.push(`<${name}> has a style that loads or runs something (url(), expression(), @import): only inline presentation is allowed`);
      }
    }
  });
  parser.on('closetag', () => {
    depth--;
  });
  try {
    parser.write(div).close();
  } catch (e) {
    return [`the narrative is not well-formed XHTML: ${(e as Error).message.split('\n')[0]}`];
  }
  if (!rootSeen) problems.push('the narrative must be a <div> element');
  else if (!content && problems.length === 0) problems.push(NO_CONTENT);
  return [...new Set(problems)];
}

/**
 * Every Narrative in a resource: `text` objects holding a `div` string, wherever they are (the resource, contained
 * resources, Bundle entries, Composition sections). `pointer` is a JSON pointer for pointerToFhirPath.
 */
function findNarratives(node: unknown, pointer: string, out: Array<{ pointer: string; div: string }>): void {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    node.forEach((child, i) => findNarratives(child, `${pointer}/${i}`, out));
    return;
  }
  for (const [key, child] of Object.entries(node as Record<string, unknown>)) {
    if (key === 'text' && child !== null && typeof child === 'object' && !Array.isArray(child) && typeof (child as { div?: unknown }).div === 'string') {
      out.push({ pointer: `${pointer}/text/div`, div: (child as { div: string }).div });
    }
    findNarratives(child, `${pointer}/${key}`, out);
  }
}

/** txt-1/txt-2 issues of a resource, each at its `...text.div` path (e.g. `Bundle.entry[0].resource.text.div`). */
export function checkNarratives(resourceType: string, resource: object): OperationOutcomeIssue[] {
  const found: Array<{ pointer: string; div: string }> = [];
  findNarratives(resource, '', found);
  return found.flatMap(({ pointer, div }) => {
    const at = pointerToFhirPath(resourceType, pointer);
    return narrativeProblems(div).map((p): OperationOutcomeIssue => ({
      severity: 'error',
      code: 'invariant',
      diagnostics: `${at}: ${p} [${p === NO_CONTENT ? 'txt-2' : 'txt-1'}]`,
      expression: [at],
    }));
  });
}
