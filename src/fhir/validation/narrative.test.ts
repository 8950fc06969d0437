import { narrativeProblems } from './narrative.js';

const X = 'xmlns="http://www.w3.org/1999/xhtml"';

describe('narratives: txt-1 and txt-2 (issue 17)', () => {
  test('the spec-shaped narratives pass: tables, links, images, styles, xml:lang', () => {
    for (const ok of [
      `<div ${X}><p>Peter James <b>Chalmers</b></p></div>`,
      `<div ${X} xml:lang="en" lang="en"><table class="grid"><tr><td style="color: red; padding: 2px">MRN</td><td colspan="2">12345</td></tr></table><a name="x"> </a><a href="https://example.org/p">link</a><a href="#p1">here</a></div>`,
      `<div ${X}><img src="#pic1" alt="photo"/></div>`,
      `<div ${X}><img src="https://example.org/photo.png" alt="photo"/><ul><li>one</li></ul><br/><hr/></div>`,
      `<div ${X}><p>\u00a0non-breaking and &amp; &lt;escaped&gt;</p></div>`,
    ]) expect([ok, narrativeProblems(ok)]).toEqual([ok, []]);
  });

  test('scripts, event attributes, active content and URL schemes that run code are refused', () => {
    const cases: Array<[string, RegExp]> = [
      [`<div ${X}><script>alert(1)</script>hi</div>`, /<script> is not allowed/],
      [`<div ${X}><img src="x.png" onerror="alert(1)"/></div>`, /event attribute onerror/],
      [`<div ${X}><p onClick="x()">hi</p></div>`, /event attribute onClick/],
      [`<div ${X}><iframe src="https://evil.example"/>x</div>`, /<iframe> is not allowed/],
      [`<div ${X}><object data="x"/>x</div>`, /<object> is not allowed/],
      [`<div ${X}><form><input/></form>x</div>`, /<form> is not allowed/],
      [`<div ${X}><a href="javascript:alert(1)">x</a></div>`, /'javascript:' scheme/],
      [`<div ${X}><img src="data:text/html;base64,PHNjcmlwdD4="/></div>`, /'data:' scheme/],
      [`<div ${X}><p style="background: url(https://tracker.example/p.gif)">x</p></div>`, /style that loads/],
      [`<div ${X}><blink>x</blink></div>`, /<blink> is not one of the basic HTML elements/],
      [`<div ${X} xmlns:xlink="http://www.w3.org/1999/xlink"><a xlink:href="https://x">x</a></div>`, /other namespaces/],
    ];
    for (const [div, problem] of cases) expect([div, narrativeProblems(div).join(' | ')]).toEqual([div, expect.stringMatching(problem)]);
  });

  test('the root is an XHTML div, well-formed, with content', () => {
    expect(narrativeProblems('<div>no namespace</div>').join()).toMatch(/XHTML namespace/);
    expect(narrativeProblems(`<p ${X}>not a div</p>`).join()).toMatch(/must be a <div>/);
    expect(narrativeProblems('plain text').join()).toMatch(/not well-formed|must be a <div>/);
    expect(narrativeProblems(`<div ${X}><p>unclosed</div>`).join()).toMatch(/not well-formed/);
    expect(narrativeProblems(`<div ${X}>&nbsp;</div>`).join()).toMatch(/not well-formed/); // HTML entities are not XML
    expect(narrativeProblems(`<div ${X}>  <p> </p> </div>`).join()).toMatch(/no content/);
    expect(narrativeProblems(`<!DOCTYPE html><div ${X}>x</div>`).join()).toMatch(/DOCTYPE/);
  });
});
