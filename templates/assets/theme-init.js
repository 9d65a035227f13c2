/* Runs in <head>, blocking, before first paint: palette, reading depth, and the "js" class.
   Keep tiny. No globals; site.js reads what this sets from <html> attributes. */
(function () {
  var d = document.documentElement, ls = null, depths = ["intuition", "math", "implementation"];
  try { ls = window.localStorage; } catch (e) { /* storage disabled: defaults only */ }
  function get(k) { try { return ls ? ls.getItem(k) : null; } catch (e) { return null; } }
  d.classList.add("js");
  var t = get("theme");
  d.setAttribute("data-theme", t === "light" || t === "dark" ? t : "auto");
  var depth = null, q = null;
  try { q = new URLSearchParams(window.location.search).get("depth"); } catch (e) { q = null; }
  if (q !== null) {
    if (depths.indexOf(q) >= 0) depth = q;
    else d.setAttribute("data-depth-invalid", q.slice(0, 40));
  }
  if (!depth && depths.indexOf(get("depth")) >= 0) depth = get("depth");
  d.setAttribute("data-depth", depth || "implementation");
  /* a shared demo setup in the link (#demo-NAME=...): demos show their derived numbers as pending until mounted */
  if (/^#demo-[\w-]+=/.test(window.location.hash)) d.setAttribute("data-shared", "");
})();
