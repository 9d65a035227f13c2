// First frames at build time: each demo view's pure render(state), run in Node -- the same function the
// browser calls for every live frame (one renderer per chart).
// argv[2]: a staging directory laid out like the site's assets/demos/ (views as NAME.mjs beside the shared modules)
// stdin:  [{"name": NAME, "state": {...}}, ...]
// stdout: [{"markup": "<svg ...>"} | {"error": "...", "line": N}, ...]
import path from "node:path";
import { pathToFileURL } from "node:url";

function lineIn(stack, file) {
  const m = String(stack || "").match(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:(\\d+)`));
  return m ? Number(m[1]) : 1;
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (c) => (input += c));
process.stdin.on("end", async () => {
  const dir = process.argv[2];
  const out = [];
  for (const { name, state } of JSON.parse(input)) {
    const file = `${name}.mjs`;
    try {
      const view = await import(pathToFileURL(path.join(dir, file)).href);
      if (typeof view.render !== "function") throw new Error("view.mjs must export a function render(state)");
      if (typeof view.mount !== "function") throw new Error("view.mjs must export a function mount(figure, runtime, initial)");
      const markup = view.render(state);
      if (typeof markup !== "string" || !markup) throw new Error("render(state) must return the chart's markup as a string");
      out.push({ markup });
    } catch (e) {
      out.push({ error: String((e && e.message) || e).split("\n")[0], line: lineIn(e && e.stack, file) });
    }
  }
  process.stdout.write(JSON.stringify(out));
});
