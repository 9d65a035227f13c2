"""The build's side of the demo folders (demos/<name>/, see demos/README.md).

Stages, each a function over plain data:
  :func:`discover`      the folders, each checked for its four pieces (one diagnostic per incomplete folder)
  :func:`describe`      each used demo's initial state, code files and data files, from CPython
                        (``python -m demos.registry describe``, a subprocess: fresh imports on every rebuild;
                        errors come back as data, one per demo)
  :func:`first_frames`  each view's ``render(state)`` run in Node: the first frame is the live renderer's markup
  :func:`manifest`      what the page's runtime, the worker and the tests read: demos, their views and modules,
                        and every file the worker loads
No function here names a particular demo.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .diagnostics import Diagnostics

PIECES = ("demo.py", "demo.html", "view.mjs", "style.css")


@dataclass
class CodeFile:
    path: str          # repository path, e.g. "demos/grpo_core.py"
    function: str | None
    line: int          # where the Python tab opens
    source: str


@dataclass
class Demo:
    name: str
    folder: Path
    state: dict = field(default_factory=dict)
    code: list[CodeFile] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    first_frame: str = ""
    prompts: list[dict] = field(default_factory=list)   # PROMPTS of demo.py: [{ask, state, look}]

    @property
    def template(self) -> str:       # Jinja name (the loader searches templates/ and the project root)
        return f"demos/{self.name}/demo.html"

    @property
    def view_url(self) -> str:       # relative to the site root
        return f"assets/demos/{self.name}.mjs"


def discover(project: Path, diags: Diagnostics) -> dict[str, Path]:
    """{name: folder} of the complete demo folders; an incomplete one is one diagnostic naming it."""
    root = project / "demos"
    found: dict[str, Path] = {}
    if not root.is_dir():
        return found
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        present = [p for p in PIECES if (folder / p).is_file()]
        if not present:
            continue    # not a demo folder (e.g. __pycache__)
        missing = [p for p in PIECES if p not in present]
        if missing:
            diags.add(folder, 1, "demo-folder",
                      f"demo '{folder.name}' is missing {', '.join(missing)} "
                      f"(a demo folder holds {', '.join(PIECES)}; see demos/README.md)")
            continue
        found[folder.name] = folder
    return found


def _source_key(project: Path) -> str:
    """Hash of everything the Python side of the demos reads."""
    h = hashlib.sha256()
    for p in sorted((project / "demos").rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".html", ".mjs", ".css", ".md"):
            h.update(p.relative_to(project).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def describe(project: Path, folders: dict[str, Path], names: list[str], diags: Diagnostics,
             cache: Path) -> dict[str, Demo]:
    """The used demos with their initial state, code and data files (cached on the demos' sources)."""
    if not names:
        return {}
    key = f"{_source_key(project)}-{hashlib.sha256(' '.join(names).encode()).hexdigest()[:8]}"
    cached = cache / f"demos-{key}.json"
    if cached.exists():
        data = json.loads(cached.read_text(encoding="utf-8"))
    else:
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "PYTHONPATH": str(project)}
        proc = subprocess.run([sys.executable, "-m", "demos.registry", "describe", *names], cwd=project,
                              capture_output=True, text=True, encoding="utf-8", env=env, check=False)
        try:
            data = json.loads(proc.stdout)
        except ValueError:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            diags.add(project / "demos" / "registry.py", 1, "demo", f"describing the demos failed: {tail}")
            return {}
        if all(d["ok"] for d in data.values()):
            cache.mkdir(parents=True, exist_ok=True)
            cached.write_text(proc.stdout, encoding="utf-8")
    demos: dict[str, Demo] = {}
    for name in names:
        entry = data[name]
        if not entry["ok"]:
            err = entry["error"]
            diags.add(project / err["file"], err["line"], "demo", f"demo '{name}': {err['message']}")
            continue
        code = [CodeFile(path, function, line, (project / path).read_text(encoding="utf-8"))
                for path, function, line in entry["code"]]
        demos[name] = Demo(name, folders[name], entry["state"], code, entry["data"], prompts=entry.get("prompts", []))
    return demos


def stage_views(project: Path, folders: dict[str, Path], dest: Path) -> None:
    """Lay the views out as on the site: dest/<name>.mjs beside the shared modules of templates/assets/demos/."""
    shared = project / "templates" / "assets" / "demos"
    dest.mkdir(parents=True, exist_ok=True)
    for p in shared.glob("*.*js"):
        shutil.copy2(p, dest / p.name)
    for name, folder in folders.items():
        shutil.copy2(folder / "view.mjs", dest / f"{name}.mjs")


def first_frames(project: Path, folders: dict[str, Path], demos: dict[str, Demo], diags: Diagnostics) -> None:
    """Run each used view's render(state) in Node; the markup becomes demo.first_frame."""
    if not demos:
        return
    node = shutil.which("node")
    if node is None:
        diags.add(project / "package.json", 1, "demo", "Node.js is needed to draw the demos' first frames")
        return
    with tempfile.TemporaryDirectory(prefix="grpo-views-") as tmp:
        stage = Path(tmp)
        stage_views(project, {n: folders[n] for n in demos}, stage)
        (stage / "package.json").write_text('{"type": "module"}', encoding="utf-8")
        items = [{"name": d.name, "state": d.state} for d in demos.values()]
        proc = subprocess.run([node, str(Path(__file__).with_name("render_views.mjs")), str(stage)],
                              input=json.dumps(items), capture_output=True, text=True, encoding="utf-8", check=False)
    if proc.returncode != 0:
        diags.add(Path(__file__).with_name("render_views.mjs"), 1, "demo",
                  f"drawing the first frames failed: {(proc.stderr.strip().splitlines() or ['no output'])[-1]}")
        return
    for demo, res in zip(list(demos.values()), json.loads(proc.stdout)):
        if "error" in res:
            diags.add(demo.folder / "view.mjs", res["line"], "demo", f"demo '{demo.name}': {res['error']}")
        else:
            demo.first_frame = res["markup"]


def worker_files(project: Path, folders: dict[str, Path], demos: dict[str, Demo]) -> list[str]:
    """Every file the worker writes into its file system: the shared modules, each demo's demo.py, data files."""
    shared = [p.relative_to(project).as_posix() for p in sorted((project / "demos").glob("*.py"))]
    entries = [f"demos/{name}/demo.py" for name in folders]
    data = sorted({f for d in demos.values() for f in d.data})
    return shared + entries + data


def manifest(project: Path, folders: dict[str, Path], demos: dict[str, Demo], version: str) -> dict:
    return {"version": version,
            "demos": {name: {"view": f"assets/demos/{name}.mjs", "python": f"demos/{name}/demo.py"}
                      for name in folders},
            "files": worker_files(project, folders, demos)}


def write(project: Path, dest: Path, folders: dict[str, Path], demos: dict[str, Demo], version: str) -> None:
    """site/demos/ (the worker's files and manifest.json) and site/assets/demos/<name>.mjs (the views)."""
    stage_views(project, folders, dest / "assets" / "demos")
    info = manifest(project, folders, demos, version)
    for rel in info["files"]:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(project / rel, target)
    (dest / "demos" / "manifest.json").write_text(json.dumps(info, indent=1), encoding="utf-8")


def stylesheets(folders: dict[str, Path]) -> list[tuple[str, str]]:
    """(label, css) of every demo's style.css, for the site's one bundled stylesheet."""
    return [(f"demos/{name}/style.css", (folder / "style.css").read_text(encoding="utf-8"))
            for name, folder in folders.items()]
