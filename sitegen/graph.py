"""The bibliography, the chapter graph (connections.yaml) and its SVG drawing."""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .diagnostics import Diagnostics
from .sources import ARXIV_RE, YamlDoc, parse_yaml, read_text

REF_FIELDS = {"title": str, "authors": list, "year": int, "venue": str, "url": str}
REF_OPTIONAL = {"arxiv": str, "note": str}


def load_references(path: Path, diags: Diagnostics) -> dict[str, dict[str, Any]]:
    """content/references.yaml: key -> {title, authors, year, venue, url, arxiv?, note?}."""
    if not path.exists():
        return {}
    text = read_text(path, diags)
    doc = parse_yaml(text, path, diags) if text is not None else None
    if doc is None or doc.data is None:
        return {}
    if not isinstance(doc.data, dict):
        diags.add(path, 1, "references", "references.yaml must map citation keys to entries")
        return {}
    refs = {}
    for key, entry in doc.data.items():
        line = doc.line_of(key)
        if not isinstance(entry, dict):
            diags.add(path, line, "references", f"entry '{key}' must be a mapping")
            continue
        ok = True
        for name, typ in REF_FIELDS.items():
            if not isinstance(entry.get(name), typ) or isinstance(entry.get(name), bool):
                diags.add(path, doc.line_of(key, name, default=line), "references",
                          f"entry '{key}': field '{name}' is missing or not a {typ.__name__}")
                ok = False
        for name in entry:
            if name not in REF_FIELDS and name not in REF_OPTIONAL:
                diags.add(path, doc.line_of(key, name), "references", f"entry '{key}': unknown field '{name}'")
                ok = False
        if "arxiv" in entry and not (isinstance(entry["arxiv"], str) and ARXIV_RE.match(entry["arxiv"])):
            diags.add(path, doc.line_of(key, "arxiv"), "references",
                      f"entry '{key}': arxiv {entry['arxiv']!r} is not an id like 2402.03300 (quote it in YAML)")
            ok = False
        if ok:
            refs[key] = entry
    return refs


def reference_html(entry: dict[str, Any]) -> str:
    authors = entry["authors"]
    names = ", ".join(authors[:3]) + (" et al." if len(authors) > 3 else "")
    e = html.escape
    parts = [f"{e(names)} ({entry['year']}).",
             f'<a href="{e(entry["url"])}" rel="noopener"><cite>{e(entry["title"])}</cite></a>.',
             f"{e(entry['venue'])}."]
    if entry.get("arxiv"):
        parts.append(f'arXiv:<a href="https://arxiv.org/abs/{e(entry["arxiv"])}" rel="noopener">{e(entry["arxiv"])}</a>.')
    if entry.get("note"):
        parts.append(f'<span class="ref-note">{e(entry["note"])}</span>')
    return " ".join(parts)


@dataclass
class Edge:
    slug: str
    relationship: str
    note: str
    line: int


@dataclass
class Connections:
    builds_on: dict[str, list[Edge]]
    referenced_by: dict[str, list[Edge]]


def load_connections(path: Path, slugs: dict[str, int], diags: Diagnostics) -> Connections:
    """connections.yaml, checked both ways: A builds_on B  <=>  B referenced_by A; every slug known."""
    empty = Connections({s: [] for s in slugs}, {s: [] for s in slugs})
    if not path.exists():
        diags.add(path, 1, "connections", "connections.yaml is missing")
        return empty
    text = read_text(path, diags)
    doc: YamlDoc | None = parse_yaml(text, path, diags) if text is not None else None
    if doc is None:
        return empty
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("chapters"), dict):
        diags.add(path, 1, "connections", "connections.yaml needs a 'chapters:' mapping")
        return empty
    conn = Connections({s: [] for s in slugs}, {s: [] for s in slugs})
    for slug, entry in data["chapters"].items():
        line = doc.line_of("chapters", slug)
        if slug not in slugs:
            diags.add(path, line, "connections", f"unknown chapter '{slug}' (chapters: {', '.join(sorted(slugs))})")
            continue
        if entry is None:
            entry = {}
        if not isinstance(entry, dict):
            diags.add(path, line, "connections", f"'{slug}' must map builds_on/referenced_by to lists")
            continue
        for kind in entry:
            if kind not in ("builds_on", "referenced_by"):
                diags.add(path, doc.line_of("chapters", slug, kind), "connections",
                          f"'{slug}': unknown key '{kind}' (builds_on, referenced_by)")
        for kind in ("builds_on", "referenced_by"):
            items = entry.get(kind) or []
            if not isinstance(items, list):
                diags.add(path, doc.line_of("chapters", slug, kind), "connections", f"'{slug}.{kind}' must be a list")
                continue
            for j, item in enumerate(items):
                iline = doc.line_of("chapters", slug, kind, j)
                if not isinstance(item, dict) or not isinstance(item.get("slug"), str) \
                        or not isinstance(item.get("relationship", ""), str):
                    diags.add(path, iline, "connections",
                              f"'{slug}.{kind}' items look like {{slug: ppo, relationship: extends, note: ...}}")
                    continue
                if item["slug"] not in slugs:
                    diags.add(path, iline, "connections", f"'{slug}.{kind}' names unknown chapter '{item['slug']}'")
                    continue
                if item["slug"] == slug:
                    diags.add(path, iline, "connections", f"'{slug}' cannot connect to itself")
                    continue
                getattr(conn, kind)[slug].append(Edge(item["slug"], item.get("relationship", "related"),
                                                      str(item.get("note", "")), iline))
    for slug in slugs:
        if slug not in data["chapters"]:
            diags.add(path, 1, "connections", f"chapter '{slug}' has no entry in connections.yaml")
    for a, edges in conn.builds_on.items():
        for e in edges:
            back = [x for x in conn.referenced_by[e.slug] if x.slug == a]
            if not back:
                diags.add(path, e.line, "connections-one-way",
                          f"'{a}' builds on '{e.slug}' but '{e.slug}.referenced_by' does not list '{a}'")
            elif back[0].relationship != e.relationship:
                diags.add(path, back[0].line, "connections-one-way",
                          f"relationship differs: '{a}' builds on '{e.slug}' as '{e.relationship}', "
                          f"'{e.slug}' lists it as '{back[0].relationship}'")
    for b, edges in conn.referenced_by.items():
        for e in edges:
            if not any(x.slug == b for x in conn.builds_on[e.slug]):
                diags.add(path, e.line, "connections-one-way",
                          f"'{b}' is referenced by '{e.slug}' but '{e.slug}.builds_on' does not list '{b}'")
    return conn


def graph_svg(chapters: list[dict], conn: Connections) -> str:
    """A left-to-right drawing of the chapter graph: columns by prerequisite depth, arrows B -> A when A
    builds on B. Edges against the reading order (cycles such as rlhf <-> grpo) are drawn as arcs below."""
    order = {c["slug"]: i for i, c in enumerate(chapters)}
    depth: dict[str, int] = {}
    for c in chapters:   # chapters come in reading order: forward edges only
        s = c["slug"]
        depth[s] = max([depth[e.slug] + 1 for e in conn.builds_on[s] if order[e.slug] < order[s]] or [0])
    cols: dict[int, list[str]] = {}
    for c in chapters:
        cols.setdefault(depth[c["slug"]], []).append(c["slug"])
    W, H, GX, GY, PAD = 170, 54, 70, 26, 20
    ncol = max(cols) + 1 if cols else 1
    nrow = max((len(v) for v in cols.values()), default=1)
    spans = [depth[a] - depth[x.slug] for a in conn.builds_on for x in conn.builds_on[a] if order[x.slug] < order[a]]
    top_room = 24 + 22 * max([s_ - 1 for s_ in spans if s_ > 1] or [0])   # arcs over skipped columns
    width = PAD * 2 + ncol * W + (ncol - 1) * GX
    height = top_room + PAD + nrow * H + (nrow - 1) * GY + 60
    pos = {}
    for d, slugs in cols.items():
        top = top_room + (nrow - len(slugs)) * (H + GY) / 2
        for k, s_ in enumerate(slugs):
            pos[s_] = (PAD + d * (W + GX), top + k * (H + GY))
    title = {c["slug"]: c["short_title"] for c in chapters}
    url = {c["slug"]: c["url"] for c in chapters}
    e = html.escape
    out = [f'<svg class="chapter-graph" viewBox="0 0 {width:.0f} {height:.0f}" role="group" '
           f'aria-labelledby="graph-title graph-desc" xmlns="http://www.w3.org/2000/svg">',
           '<title id="graph-title">How the chapters connect</title>',
           '<desc id="graph-desc">' + e("; ".join(f"{title[a]} builds on {title[x.slug]}"
                                                  for a in conn.builds_on for x in conn.builds_on[a])) + "</desc>",
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="graph-arrow"/></marker></defs>']
    for a, edges in conn.builds_on.items():
        for x in edges:
            (x0, y0), (x1, y1) = pos[x.slug], pos[a]
            span = depth[a] - depth[x.slug]
            if order[x.slug] < order[a] and span > 1 and abs(y0 - y1) < 1:
                # skips columns on the same row: an arc over the nodes in between
                sx, sy, tx, ty = x0 + W / 2 + 12, y0, x1 + W / 2 - 12, y1
                high = y0 - 14 - 22 * (span - 1)
                d = f"M{sx:.1f},{sy:.1f} C{sx:.1f},{high:.1f} {tx:.1f},{high:.1f} {tx:.1f},{ty - 2:.1f}"
                cls = "graph-edge graph-edge-skip"
            elif order[x.slug] < order[a]:
                sx, sy, tx, ty = x0 + W, y0 + H / 2, x1, y1 + H / 2
                mx = (sx + tx) / 2
                d = f"M{sx:.1f},{sy:.1f} C{mx:.1f},{sy:.1f} {mx:.1f},{ty:.1f} {tx - 2:.1f},{ty:.1f}"
                cls = "graph-edge"
            else:
                sx, sy, tx, ty = x0 + W / 2, y0 + H, x1 + W / 2, y1 + H
                low = max(sy, ty) + 40
                d = f"M{sx:.1f},{sy:.1f} C{sx:.1f},{low:.1f} {tx:.1f},{low:.1f} {tx:.1f},{ty + 2:.1f}"
                cls = "graph-edge graph-edge-back"
            out.append(f'<path class="{cls}" d="{d}" marker-end="url(#arrow)"><title>{e(title[a])} builds on '
                       f'{e(title[x.slug])} ({e(x.relationship)})</title></path>')
    for s, (x, y) in pos.items():
        out.append(f'<a href="{e(url[s])}" class="graph-node"><rect x="{x:.1f}" y="{y:.1f}" width="{W}" height="{H}" '
                   f'rx="10"/><text x="{x + W / 2:.1f}" y="{y + H / 2 + 5:.1f}" text-anchor="middle" '
                   f'class="graph-label">{e(title[s])}</text></a>')
    out.append("</svg>")
    return "\n".join(out)
