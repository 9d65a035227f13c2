"""The demo folders: find them, load their Python entry, and describe them to the build.

A demo is the folder ``demos/<name>/`` (see demos/README.md): ``demo.py``, ``demo.html``, ``view.mjs`` and
``style.css``. Its name has hyphens, so the folder is not a package; :func:`load` imports ``demo.py`` by path as
``demos._demo_<name>``, the same way under CPython (build, tests, command line) and in the browser's worker.

Command line, the build's contract (one JSON object on stdout, one entry per demo, errors as data)::

    python -m demos.registry describe NAME [NAME ...]
    -> {"NAME": {"ok": true, "state": {...}, "code": [[file, function, line], ...], "data": [...], "prompts": [...]}
                | {"ok": false, "error": {"file": "demos/NAME/demo.py", "line": 12, "message": "..."}}}
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import sys
import traceback
from pathlib import Path

DEMOS_DIR = Path(__file__).resolve().parent
PROJECT_DIR = DEMOS_DIR.parent
PIECES = ("demo.py", "demo.html", "view.mjs", "style.css")
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def names() -> list[str]:
    """Every demo folder under demos/ (a folder holding at least one of the four pieces), sorted."""
    return sorted(p.name for p in DEMOS_DIR.iterdir()
                  if p.is_dir() and any((p / piece).exists() for piece in PIECES))


def module_name(name: str) -> str:
    return "demos._demo_" + name.replace("-", "_")


def load(name: str):
    """The module ``demos/<name>/demo.py`` (imported once; a code edit in the worker clears ``demos.*``)."""
    if not NAME_RE.match(name):
        raise ValueError(f"not a demo name: {name!r}")
    mod_name = module_name(name)
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    path = DEMOS_DIR / name / "demo.py"
    if not path.exists():
        raise ValueError(f"unknown demo {name!r}: {path} does not exist")
    spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[mod_name]
        raise
    return module


def call(name: str, fn: str, payload_json: str) -> str:
    """``demos/<name>/demo.py``'s public function ``fn`` on one JSON text (what the worker runs)."""
    module = load(name)
    func = getattr(module, fn, None) if not fn.startswith("_") else None
    if not callable(func):
        raise ValueError(f"demo {name!r} has no function {fn!r}")
    return func(payload_json)


def _function_line(path: Path, function: str) -> int:
    """Line of ``def function`` in the file (1 if absent: the tab then opens at the top)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == function:
            return node.lineno - len(node.decorator_list)
    raise ValueError(f"{path.relative_to(PROJECT_DIR).as_posix()} has no function {function!r}")


def describe(name: str) -> dict:
    """What the build needs of one demo: its initial state (with its limits), its code files and data files."""
    module = load(name)
    for attr in ("LIMITS", "CODE", "initial_state"):
        if not hasattr(module, attr):
            raise AttributeError(f"demos/{name}/demo.py must define {attr} (see demos/README.md)")
    state = dict(module.initial_state())
    state["limits"] = module.LIMITS
    code = []
    for entry in module.CODE:
        file, function = (entry, None) if isinstance(entry, str) else entry
        path = PROJECT_DIR / file
        if not path.is_file():
            raise ValueError(f"CODE names {file}, which does not exist")
        code.append([file, function, _function_line(path, function) if function else 1])
    data = list(getattr(module, "DATA", []))
    for file in data:
        if not (PROJECT_DIR / file).is_file():
            raise ValueError(f"DATA names {file}, which does not exist")
    json.dumps(state)   # must be JSON: fail here, in the demo's own terms
    return {"state": state, "code": code, "data": data, "prompts": prompts(module)}


PROMPT_KEYS = ("ask", "state", "look")


def prompts(module) -> list[dict]:
    """The demo's optional PROMPTS: "predict, then try" items the shared frame shows beside the controls.
    Each is {"ask": the question, "state": the demo's state in its URL-hash format (what its "Copy link"
    writes), "look": what to look for once it is set}."""
    items = list(getattr(module, "PROMPTS", []))
    for i, item in enumerate(items):
        if not isinstance(item, dict) or sorted(item) != sorted(PROMPT_KEYS) \
                or not all(isinstance(item[k], str) and item[k].strip() for k in PROMPT_KEYS):
            raise ValueError(f"PROMPTS[{i}] must be a dict with the non-empty strings {', '.join(PROMPT_KEYS)}")
    return items


def _error(name: str, exc: BaseException) -> dict:
    """The innermost frame inside demos/ (file relative to the project, line) and the message."""
    file, line = f"demos/{name}/demo.py", 1
    for frame in traceback.extract_tb(exc.__traceback__):
        p = Path(frame.filename).resolve()
        if p.is_relative_to(DEMOS_DIR) and p.name != "registry.py":
            file, line = p.relative_to(PROJECT_DIR).as_posix(), frame.lineno or 1
    if isinstance(exc, SyntaxError) and exc.filename:
        file, line = Path(exc.filename).resolve().relative_to(PROJECT_DIR).as_posix(), exc.lineno or 1
    return {"file": file, "line": line, "message": f"{type(exc).__name__}: {exc}"}


def main(argv: list[str]) -> int:
    if len(argv) < 1 or argv[0] != "describe":
        print(__doc__, file=sys.stderr)
        return 2
    out = {}
    for name in argv[1:]:
        try:
            out[name] = {"ok": True, **describe(name)}
        except Exception as exc:   # reported per demo; the other demos still build
            out[name] = {"ok": False, "error": _error(name, exc)}
    sys.stdout.write(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
