/* Site behaviour: palette, reading depth, navigation drawer, search (Pagefind), copy buttons,
   citation cards, table-of-contents scroll-spy. Deferred; every part is optional and fails quietly
   (the page is fully readable without it). theme-init.js has already set html[data-theme|data-depth]. */
(function () {
  "use strict";
  var doc = document, html = doc.documentElement;
  var root = doc.body.getAttribute("data-root") || "";
  var DEPTHS = ["intuition", "math", "implementation"];
  var DEPTH_NAMES = { intuition: "Intuition", math: "Intuition + Math", implementation: "Intuition + Math + Implementation" };
  var THEMES = ["auto", "light", "dark"];
  var THEME_NAMES = { auto: "automatic (follows your system)", light: "light", dark: "dark" };

  function $(sel, el) { return (el || doc).querySelector(sel); }
  function $$(sel, el) { return Array.prototype.slice.call((el || doc).querySelectorAll(sel)); }
  function store(k, v) { try { localStorage.setItem(k, v); } catch (e) { /* private mode: not remembered */ } }
  var live = $("#live");
  function announce(msg) { if (!live) return; live.textContent = ""; setTimeout(function () { live.textContent = msg; }, 30); }

  /* ---------- palette ---------- */
  var themeBtn = $("#theme-btn");
  function applyTheme(t) {
    html.setAttribute("data-theme", t);
    var next = THEMES[(THEMES.indexOf(t) + 1) % THEMES.length];
    if (themeBtn) {
      themeBtn.setAttribute("aria-label", "Colour theme: " + THEME_NAMES[t] + ". Switch to " + next);
      themeBtn.title = "Theme: " + t + " (switch to " + next + ")";
    }
    var dark = t === "dark" || (t === "auto" && window.matchMedia("(prefers-color-scheme: dark)").matches);
    $$('meta[name="theme-color"]').forEach(function (m) { m.setAttribute("content", dark ? "#111418" : "#ffffff"); });
  }
  if (themeBtn) {
    applyTheme(THEMES.indexOf(html.getAttribute("data-theme")) >= 0 ? html.getAttribute("data-theme") : "auto");
    themeBtn.addEventListener("click", function () {
      var t = THEMES[(THEMES.indexOf(html.getAttribute("data-theme")) + 1) % THEMES.length];
      applyTheme(t);
      store("theme", t);
      announce("Theme: " + THEME_NAMES[t]);
    });
  }

  /* ---------- reading depth ---------- */
  var note = $("#depth-note");
  function showNote(text) { if (note) { note.textContent = text; note.hidden = false; } }
  function setDepth(d, remember) {
    html.setAttribute("data-depth", d);
    $$('input[name="depth"]').forEach(function (r) { r.checked = r.value === d; });
    if (remember) {
      store("depth", d);
      try {
        var u = new URL(window.location.href);
        u.searchParams.set("depth", d);
        history.replaceState(history.state, "", u.pathname + u.search + u.hash);
      } catch (e) { /* URL API missing: not addressable, still works */ }
    }
  }
  var depth = html.getAttribute("data-depth");
  setDepth(DEPTHS.indexOf(depth) >= 0 ? depth : "implementation", false);
  var bad = html.getAttribute("data-depth-invalid");
  if (bad !== null) {
    showNote("The link asked for depth \u201c" + bad + "\u201d, which does not exist (use intuition, math or implementation). Showing: " + DEPTH_NAMES[html.getAttribute("data-depth")] + ".");
  }
  $$('input[name="depth"]').forEach(function (r) {
    r.addEventListener("change", function () {
      if (!r.checked) return;
      setDepth(r.value, true);
      if (note && !note.hidden && bad !== null) note.hidden = true;
      announce("Depth: " + DEPTH_NAMES[r.value]);
      if (spy) spy();
    });
  });
  /* Land on an element: jump, and jump again once the blocks around it (content-visibility: auto) have been laid
     out with their real heights. The blocks far above keep their estimated heights until the reader scrolls to
     them, and scroll anchoring keeps what is on screen in place as they get their real ones. (Laying the whole
     chapter out first, for an exact scrollbar, froze the page for 0.3-0.8 s on arrival from a link.) */
  function landOn(el, noteText) {
    var target = (el.closest && el.closest(".math-block")) || el;
    var landing = target;
    var old = $(".depth-note-inline");
    if (old) old.parentNode.removeChild(old);
    if (noteText) {
      /* the notice goes where the reader lands, just above the target */
      var n = doc.createElement("p");
      n.className = "depth-note depth-note-inline";
      n.setAttribute("role", "status");
      n.textContent = noteText;
      target.parentNode.insertBefore(n, target);
      landing = n;
    }
    landing.scrollIntoView({ block: "start" });
    requestAnimationFrame(function () {
      requestAnimationFrame(function () {
        landing.scrollIntoView({ block: "start" });
      });
    });
  }
  /* The element a hash names: an id, or for a shared demo setup (#demo-NAME=...&demo-OTHER=...) the first demo. */
  function hashTarget() {
    var id;
    try { id = decodeURIComponent(window.location.hash.slice(1)); } catch (e) { return null; } /* malformed %-escape */
    if (!id) return null;
    var m = /^demo-([\w-]+)=/.exec(id);
    return doc.getElementById(m ? "demo-" + m[1] : id);
  }
  /* A link to something inside a hidden layer (e.g. #eq-... in the math layer) deepens the view. */
  function revealHashTarget() {
    var el = hashTarget();
    if (!el) return;
    var layer = el.closest ? el.closest("[data-layer]") : null;
    var cur = DEPTHS.indexOf(html.getAttribute("data-depth"));
    var need = layer ? DEPTHS.indexOf(layer.getAttribute("data-layer")) : -1;
    var text = null;
    if (need > cur) {
      setDepth(DEPTHS[need], true);
      text = "This link points into the " + layer.getAttribute("data-layer") + " layer, so the depth is now " + DEPTH_NAMES[DEPTHS[need]] + ".";
    }
    /* the browser's own jump may have used estimated heights (a demo's state writes use history.replaceState,
       which fires no hashchange, so this runs only for real navigation) */
    landOn(el, text);
  }
  revealHashTarget();
  window.addEventListener("hashchange", revealHashTarget);
  /* depth buttons elsewhere on the page (the chapter's "read at your depth" line) */
  $$("[data-set-depth]").forEach(function (b) {
    b.addEventListener("click", function () {
      var d = b.getAttribute("data-set-depth");
      setDepth(d, true);
      announce("Depth: " + DEPTH_NAMES[d]);
      if (spy) spy();
    });
  });

  /* ---------- navigation drawer (small screens) ---------- */
  var menuBtn = $(".menu-btn"), sidebar = $("#sidebar"), scrim = $("#scrim");
  function drawerOpen() { return sidebar && sidebar.classList.contains("open"); }
  function setDrawer(open) {
    if (!sidebar || !menuBtn) return;
    sidebar.classList.toggle("open", open);
    if (scrim) scrim.hidden = !open;
    menuBtn.setAttribute("aria-expanded", String(open));
    menuBtn.setAttribute("aria-label", open ? "Close navigation" : "Open navigation");
    if (open) {
      var first = $('a[aria-current="page"]', sidebar) || $("a", sidebar);
      if (first) first.focus();
    }
  }
  if (menuBtn && sidebar) {
    menuBtn.addEventListener("click", function () { setDrawer(!drawerOpen()); });
    if (scrim) scrim.addEventListener("click", function () { setDrawer(false); });
    sidebar.addEventListener("click", function (e) { if (e.target.closest("a") && drawerOpen()) setDrawer(false); });
    doc.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && drawerOpen()) { setDrawer(false); menuBtn.focus(); }
    });
  }

  /* ---------- search (Pagefind) ---------- */
  var header = $("#site-header"), searchBox = $("#search"), input = $("#search-input"), panel = $("#search-panel");
  var results = $("#search-results"), status = $("#search-status"), searchBtn = $(".search-btn");
  var loading = null, seq = 0, active = -1, timer = 0;
  function loadPagefind() {
    if (!loading) {
      var url = new URL(root + "pagefind/pagefind.js", doc.baseURI).href;
      /* Result URLs must work under any sub-path: tell Pagefind where the site root is served. */
      var base = new URL(root || "./", doc.baseURI).pathname;
      loading = import(url).then(function (pf) {
        return Promise.resolve(pf.options ? pf.options({ baseUrl: base }) : null).then(function () { return pf; });
      });
    }
    return loading;
  }
  function options() { return $$('[role="option"]', results); }
  function setActive(i) {
    var opts = options();
    active = opts.length ? (i + opts.length) % opts.length : -1;
    opts.forEach(function (o, k) { o.setAttribute("aria-selected", String(k === active)); });
    if (active >= 0) { input.setAttribute("aria-activedescendant", opts[active].id); opts[active].scrollIntoView({ block: "nearest" }); }
    else input.removeAttribute("aria-activedescendant");
  }
  function openPanel(open) {
    panel.hidden = !open;
    input.setAttribute("aria-expanded", String(open && options().length > 0));
  }
  function render(items, q) {
    results.textContent = "";
    items.forEach(function (r, i) {
      var a = doc.createElement("a");
      a.id = "search-opt-" + i;
      a.setAttribute("role", "option");
      a.setAttribute("aria-selected", "false");
      a.tabIndex = -1;
      a.href = r.url;
      var t = doc.createElement("span"); t.className = "r-title"; t.textContent = r.title;
      var x = doc.createElement("span"); x.className = "r-excerpt"; x.innerHTML = r.excerpt || ""; /* Pagefind escapes page text; only <mark> is markup */
      a.appendChild(t); a.appendChild(x);
      results.appendChild(a);
    });
    status.textContent = items.length ? items.length + (items.length === 1 ? " result" : " results") + " for \u201c" + q + "\u201d" : "No results for \u201c" + q + "\u201d";
    active = -1;
    input.removeAttribute("aria-activedescendant");
    openPanel(true);
  }
  /* Pagefind also returns pages that only share a shorter prefix with a word (e.g. "zzqx" -> "z"): keep the
     pages where every word of the query starts a word of the page. */
  function matchesAll(q, text) {
    var words = (text || "").toLowerCase().match(/[\p{L}\p{N}_]+/gu) || [];
    return q.toLowerCase().split(/[^\p{L}\p{N}_]+/u).filter(Boolean).every(function (t) {
      return words.some(function (w) { return w.lastIndexOf(t, 0) === 0; });
    });
  }
  /* One option per section: a page's sub-results (its headings with ids) ranked by how many matches each
     holds; the page itself when it has none. */
  function sections(items, q) {
    var out = [];
    items.forEach(function (r) {
      if (!matchesAll(q, r.content)) return;
      var title = (r.meta && r.meta.title) || r.url;
      var subs = (r.sub_results || []).filter(function (s) { return s.url && s.url.indexOf("#") > 0; });
      subs.sort(function (a, b) { return (b.locations || []).length - (a.locations || []).length; });
      if (!subs.length) { out.push({ url: r.url, title: title, excerpt: r.excerpt }); return; }
      subs.slice(0, 3).forEach(function (s) {
        out.push({ url: s.url, title: title + " \u203a " + s.title, excerpt: s.excerpt });
      });
    });
    return out.slice(0, 10);
  }
  function runSearch() {
    var q = input.value.trim(), my = ++seq;
    if (!q) { results.textContent = ""; status.textContent = ""; openPanel(false); return; }
    status.textContent = "Searching\u2026";
    openPanel(true);
    loadPagefind().then(function (pf) { return pf.search(q); }).then(function (res) {
      if (my !== seq) return null;
      return Promise.all(res.results.slice(0, 8).map(function (r) { return r.data(); }));
    }).then(function (items) {
      if (items && my === seq) render(sections(items, q), q);
    }).catch(function () {
      if (my !== seq) return;
      results.textContent = "";
      status.textContent = "Search is not available here (the index is made by the full build).";
      openPanel(true);
    });
  }
  function showSearch(show) {
    if (!header) return;
    header.classList.toggle("search-visible", show);
    if (searchBtn) searchBtn.setAttribute("aria-expanded", String(show));
    if (show) input.focus();
  }
  if (input && panel && results) {
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(runSearch, 120); });
    input.addEventListener("focus", function () { loadPagefind().catch(function () {}); if (input.value.trim() && results.childNodes.length) openPanel(true); });
    input.addEventListener("keydown", function (e) {
      var opts = options();
      if (e.key === "ArrowDown") { e.preventDefault(); if (panel.hidden && input.value) openPanel(true); setActive(active + 1); }
      else if (e.key === "ArrowUp") { e.preventDefault(); setActive(active - 1); }
      else if (e.key === "Enter") {
        if (active >= 0 && opts[active]) { e.preventDefault(); window.location.href = opts[active].href; }
        else if (opts[0]) { e.preventDefault(); window.location.href = opts[0].href; }
      } else if (e.key === "Escape") {
        if (!panel.hidden) { e.preventDefault(); openPanel(false); }
        else if (header.classList.contains("search-visible")) { showSearch(false); if (searchBtn) searchBtn.focus(); }
        else input.blur();
      }
    });
    doc.addEventListener("click", function (e) {
      if (searchBox && !searchBox.contains(e.target) && !(searchBtn && searchBtn.contains(e.target))) {
        openPanel(false);
        if (header.classList.contains("search-visible") && !$(".search-open") ) showSearch(false);
      }
    });
    doc.addEventListener("keydown", function (e) {
      if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey) return;
      var t = e.target, tag = t && t.tagName;
      if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (t && t.isContentEditable)) return;
      e.preventDefault();
      showSearch(true);
      input.focus();
      input.select();
    });
    if (searchBtn) searchBtn.addEventListener("click", function () { showSearch(!header.classList.contains("search-visible")); });
    $$(".search-open").forEach(function (b) { b.addEventListener("click", function (e) { e.stopPropagation(); showSearch(true); }); });
  }

  /* ---------- copy buttons ---------- */
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    return new Promise(function (resolve, reject) {
      var ta = doc.createElement("textarea");
      ta.value = text; ta.setAttribute("readonly", ""); ta.className = "visually-hidden";
      doc.body.appendChild(ta); ta.select();
      var ok = false;
      try { ok = doc.execCommand("copy"); } catch (e) { ok = false; }
      doc.body.removeChild(ta);
      if (ok) resolve(); else reject(new Error("copy failed"));
    });
  }
  function copyButton(label, what, getText) {
    var b = doc.createElement("button");
    b.type = "button"; b.className = "copy-btn"; b.textContent = label;
    b.setAttribute("aria-label", label + ": " + what);
    b.addEventListener("click", function () {
      copyText(getText()).then(function () {
        b.textContent = "Copied"; b.classList.add("done"); announce(what + " copied to the clipboard");
      }, function () {
        b.textContent = "Copy failed"; announce("Could not copy: select the text and copy it by hand");
      }).then(function () {
        setTimeout(function () { b.textContent = label; b.classList.remove("done"); }, 1800);
      });
    });
    return b;
  }
  $$(".codeblock").forEach(function (cb) {
    var pre = $("pre", cb);
    if (!pre || $(".copy-btn", cb)) return;
    var src = $(".code-source", cb);
    cb.appendChild(copyButton("Copy", src ? "code of " + src.textContent.trim() : "code", function () {
      return pre.textContent.replace(/\n$/, "");
    }));
  });
  $$(".math-display[data-tex]").forEach(function (md) {
    if (md.parentNode.classList.contains("math-block")) return;
    var wrap = doc.createElement("div");
    wrap.className = "math-block";
    md.parentNode.insertBefore(wrap, md);
    wrap.appendChild(md);
    var no = $(".eq-no", md);
    wrap.appendChild(copyButton("Copy LaTeX", "LaTeX of equation" + (no ? " " + no.textContent.trim() : ""), function () {
      return md.getAttribute("data-tex");
    }));
  });

  /* Scroll boxes that overflow must be reachable by keyboard. The build makes every such box focusable
     (tabindex=0, data-scroll-focus); here boxes that do not overflow drop out of the tab order as they come
     near the viewport. Measuring them all at start-up would force one long layout of the whole page. */
  var scrollers = $$(".math-display, .table-wrap, .highlight pre, .graph-scroll");
  function applyOverflow(el, over) {
    if (over && !el.hasAttribute("tabindex")) { el.setAttribute("tabindex", "0"); el.setAttribute("data-scroll-focus", ""); }
    else if (!over && el.hasAttribute("data-scroll-focus")) { el.removeAttribute("tabindex"); el.removeAttribute("data-scroll-focus"); }
  }
  function markBatch(els) {
    var over = els.map(function (el) { return el.scrollWidth > el.clientWidth + 1; });   /* reads, then writes */
    els.forEach(function (el, k) { applyOverflow(el, over[k]); });
  }
  var scrollIO = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    markBatch(entries.filter(function (e) { return e.isIntersecting; }).map(function (e) { return e.target; }));
  }, { rootMargin: "800px 0px" }) : null;
  function markScrollers() {
    if (!scrollIO) return markBatch(scrollers);
    scrollers.forEach(function (el) { scrollIO.unobserve(el); scrollIO.observe(el); });
  }
  markScrollers();
  var rs = 0;
  window.addEventListener("resize", function () {
    clearTimeout(rs);
    rs = setTimeout(function () {
      /* widths changed: every box may scroll again until it is measured near the viewport */
      scrollers.forEach(function (el) { applyOverflow(el, true); });
      markScrollers();
    }, 150);
  });

  /* ---------- citation cards ---------- */
  var card = null, cardFor = null, hideTimer = 0;
  function refItem(a) {
    var id = a.getAttribute("data-ref") || (a.getAttribute("href") || "").replace(/^#/, "");
    return id ? doc.getElementById(id) : null;
  }
  function hideCard() {
    clearTimeout(hideTimer);
    if (card) card.hidden = true;
    if (cardFor) { cardFor.removeAttribute("aria-describedby"); cardFor = null; }
  }
  function showCard(a) {
    var li = refItem(a);
    if (!li) return;
    clearTimeout(hideTimer);
    if (!card) {
      card = doc.createElement("div");
      card.id = "cite-card"; card.className = "cite-card"; card.setAttribute("role", "tooltip");
      card.addEventListener("mouseenter", function () { clearTimeout(hideTimer); });
      card.addEventListener("mouseleave", function () { hideTimer = setTimeout(hideCard, 200); });
      doc.body.appendChild(card);
    }
    card.textContent = "";
    var n = doc.createElement("span"); n.className = "cite-n"; n.textContent = a.textContent.trim();
    var body = li.cloneNode(true);
    $$("[id]", body).forEach(function (e) { e.removeAttribute("id"); });
    var box = doc.createElement("div");
    box.appendChild(n);
    while (body.firstChild) box.appendChild(body.firstChild);
    card.appendChild(box);
    card.hidden = false;
    if (cardFor && cardFor !== a) cardFor.removeAttribute("aria-describedby");
    cardFor = a;
    a.setAttribute("aria-describedby", "cite-card");
    var r = a.getBoundingClientRect(), vw = doc.documentElement.clientWidth;
    var w = card.offsetWidth, h = card.offsetHeight;
    var left = Math.max(8, Math.min(r.left + window.scrollX, window.scrollX + vw - w - 8));
    var top = r.bottom + window.scrollY + 6;
    if (r.bottom + h + 12 > window.innerHeight && r.top > h + 12) top = r.top + window.scrollY - h - 6;
    card.style.left = left + "px";
    card.style.top = top + "px";
  }
  $$("a.cite").forEach(function (a) {
    a.addEventListener("mouseenter", function () { showCard(a); });
    a.addEventListener("mouseleave", function () { hideTimer = setTimeout(hideCard, 250); });
    a.addEventListener("focus", function () { showCard(a); });
    a.addEventListener("blur", function () { hideTimer = setTimeout(hideCard, 150); });
    a.addEventListener("pointerup", function (e) { a._touch = e.pointerType === "touch"; });
    a.addEventListener("click", function (e) {
      /* On touch the first tap shows the card; a second tap on the same citation follows the link. */
      if (a._touch && cardFor !== a) { e.preventDefault(); showCard(a); }
      else if (a._touch) hideCard();
    });
  });
  doc.addEventListener("keydown", function (e) { if (e.key === "Escape" && card && !card.hidden) hideCard(); });
  doc.addEventListener("pointerdown", function (e) {
    if (card && !card.hidden && !card.contains(e.target) && !(e.target.closest && e.target.closest("a.cite"))) hideCard();
  });

  /* ---------- table of contents scroll-spy ---------- */
  var spy = null;
  var tocLinks = $$("#toc a[href^='#']");
  if (tocLinks.length && "IntersectionObserver" in window) {
    var byId = {}, heads = [];
    tocLinks.forEach(function (a) {
      var id = a.getAttribute("href").slice(1), h;
      try { id = decodeURIComponent(id); } catch (e) { /* keep the raw id */ }
      h = doc.getElementById(id);
      if (h) { byId[id] = a; heads.push(h); }
    });
    var current = null;
    spy = function () {
      /* the current section: the last visible heading above 30% of the viewport height */
      var line = window.innerHeight * 0.3, pick = null;
      for (var i = 0; i < heads.length; i++) {
        if (!heads[i].offsetParent && heads[i].getClientRects().length === 0) continue;
        if (heads[i].getBoundingClientRect().top <= line) pick = heads[i]; else break;
      }
      if (!pick && heads.length) pick = heads[0];
      if (pick === current) return;
      if (current && byId[current.id]) { byId[current.id].classList.remove("active"); byId[current.id].removeAttribute("aria-current"); }
      current = pick;
      if (current && byId[current.id]) { byId[current.id].classList.add("active"); byId[current.id].setAttribute("aria-current", "location"); }
    };
    var io = new IntersectionObserver(function () { spy(); }, { rootMargin: "0px 0px -70% 0px", threshold: [0, 1] });
    heads.forEach(function (h) { io.observe(h); });
    /* a jump (Home/End, a link) can cross several headings without any intersection change: check on scroll too */
    var ticking = false;
    window.addEventListener("scroll", function () {
      if (ticking) return;
      ticking = true;
      requestAnimationFrame(function () { ticking = false; spy(); });
    }, { passive: true });
    /* no synchronous spy() here: the observer's first callback runs it after the first layout */
  }
})();
