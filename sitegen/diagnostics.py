"""Build problems, collected over a whole run and printed as ``path:line: [code] message``."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, order=True)
class Diagnostic:
    path: str
    line: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: [{self.code}] {self.message}"


class BuildFailed(Exception):
    """Raised when a build collected at least one diagnostic; nothing was written to the output."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        super().__init__("\n".join(str(d) for d in diagnostics))


@dataclass
class Diagnostics:
    """Collects the problems of one build. ``root`` makes paths relative (readable, clickable)."""

    root: Path
    items: list[Diagnostic] = field(default_factory=list)

    def rel(self, path: Path | str) -> str:
        p = Path(path)
        try:
            return p.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return p.as_posix()

    def add(self, path: Path | str, line: int | None, code: str, message: str) -> None:
        message = " ".join(str(message).split())   # one problem, one line (KaTeX messages carry newlines)
        d = Diagnostic(self.rel(path), max(1, int(line or 1)), code, message)
        if d not in self.items:
            self.items.append(d)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise BuildFailed(sorted(self.items))
