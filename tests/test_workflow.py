"""The GitHub Pages workflow passes actionlint (syntax, expressions, action inputs, shell) and zizmor (security:
pinned actions, no credentials left on disk, least privilege, no template injection), and each linter fails a
workflow that breaks its rules, so a green run means something."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"
ZIZMOR_CONFIG = ROOT / ".github" / "zizmor.yml"


def tool(name: str) -> str:
    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: scripts/setup.sh --test installs it (the test extra of pyproject.toml)")
    return found


def actionlint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([tool("actionlint"), "-no-color", str(path)], capture_output=True, text=True, check=False)


def zizmor(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([tool("zizmor"), "--offline", "--no-progress", "--config", str(ZIZMOR_CONFIG), str(path)],
                          capture_output=True, text=True, check=False)


def broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    text = WORKFLOW.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in the workflow"
    path = tmp_path / ".github" / "workflows" / "pages.yml"
    path.parent.mkdir(parents=True)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_actionlint_passes_the_workflow():
    r = actionlint(WORKFLOW)
    assert r.returncode == 0, r.stdout + r.stderr


def test_zizmor_passes_the_workflow():
    r = zizmor(WORKFLOW)
    assert r.returncode == 0, r.stdout + r.stderr


def test_actionlint_fails_a_broken_workflow(tmp_path: Path):
    # a typo in an expression's context: steps.page does not exist
    r = actionlint(broken_copy(tmp_path, "steps.pages.outputs.base_url", "steps.page.outputs.base_url"))
    assert r.returncode != 0 and "page" in r.stdout, r.stdout + r.stderr


def test_zizmor_fails_a_broken_workflow(tmp_path: Path):
    # credentials left in .git/config, and an output spliced into a shell script (template injection)
    path = broken_copy(tmp_path, "          persist-credentials: false\n", "          fetch-depth: 1\n")
    r = zizmor(path)
    assert r.returncode != 0 and "artipacked" in r.stdout, r.stdout + r.stderr
    path.write_text(WORKFLOW.read_text(encoding="utf-8").replace(
        'run: make build-local BASE_URL="$BASE_URL"',
        'run: make build-local BASE_URL="${{ github.event.head_commit.message }}"'), encoding="utf-8")
    r = zizmor(path)
    assert r.returncode != 0 and "template-injection" in r.stdout, r.stdout + r.stderr


def test_workflow_builds_self_hosted_with_the_pages_base_url_and_least_privilege():
    wf = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    triggers = wf[True] if True in wf else wf["on"]      # YAML 1.1 reads the key `on` as True
    assert triggers["push"]["branches"] == ["main"] and "workflow_dispatch" in triggers
    assert wf["permissions"] == {} and wf["concurrency"]["group"] == "pages"
    (job,) = wf["jobs"].values()
    assert job["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    uses = [s["uses"].split("@") for s in job["steps"] if "uses" in s]
    versions = dict(uses)
    assert versions["actions/configure-pages"] == "v6" and versions["actions/upload-pages-artifact"] == "v5"
    assert versions["actions/deploy-pages"] == "v5"
    build = next(s for s in job["steps"] if "run" in s)
    assert "make build-local" in build["run"] and build["env"]["BASE_URL"] == "${{ steps.pages.outputs.base_url }}/"
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "site"
