/** A small element tree over saxes: CDSi supporting data is plain nested elements with text, no mixed content worth keeping. */
import { SaxesParser } from 'saxes';

export interface XmlElement {
  name: string;
  children: XmlElement[];
  text: string;
}

export function parseXml(xml: string): XmlElement {
  const parser = new SaxesParser();
  const root: XmlElement = { name: '#document', children: [], text: '' };
  const stack: XmlElement[] = [root];
  parser.on('opentag', (tag) => {
    const el: XmlElement = { name: tag.name, children: [], text: '' };
    stack[stack.length - 1]!.children.push(el);
    stack.push(el);
  });
  parser.on('text', (t) => { stack[stack.length - 1]!.text += t; });
  parser.on('cdata', (t) => { stack[stack.length - 1]!.text += t; });
  parser.on('closetag', () => {
    const el = stack.pop()!;
    el.text = el.text.trim();
  });
  parser.write(xml).close();
  const top = root.children[0];
  if (!top) throw new Error('empty XML document');
  return top;
}

/** Children named `name`. */
export function all(el: XmlElement | undefined, name: string): XmlElement[] {
  return el ? el.children.filter((c) => c.name === name) : [];
}

export function child(el: XmlElement | undefined, name: string): XmlElement | undefined {
  return el?.children.find((c) => c.name === name);
}

/** Trimmed text of the first child named `name`; '' when absent. */
export function text(el: XmlElement | undefined, name: string): string {
  return child(el, name)?.text ?? '';
}
