// Renders a batch of TeX strings with KaTeX at build time.
// stdin:  {"macros": {...}, "items": [{"tex": "...", "display": true}, ...]}
// stdout: [{"html": "..."} | {"error": "..."}, ...]   (HTML + MathML, no client-side typesetting)
const path = require("path");
const katex = require(path.join(process.argv[2], "katex"));
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (c) => (input += c));
process.stdin.on("end", () => {
  const { macros, items } = JSON.parse(input);
  const out = items.map(({ tex, display }) => {
    try {
      // a fresh copy per item: \gdef in one formula must not leak into the next
      const html = katex.renderToString(tex, {
        displayMode: !!display, output: "htmlAndMathml", throwOnError: true,
        strict: "ignore", trust: false, macros: { ...macros },
      });
      return { html };
    } catch (e) {
      return { error: String(e.message || e).replace(/^KaTeX parse error: /, "").replace(/\u0332/g, "") };
    }
  });
  process.stdout.write(JSON.stringify(out));
});
