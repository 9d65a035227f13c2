"""Training demos never block the page: what a view redraws every step stays bounded however long it plays.
The policy-dynamics view, run in Node exactly as the build runs it (sitegen.demos.stage_views layout)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sitegen import demos

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
const view = await import(process.argv[1] + "/policy-dynamics.mjs");
const base = {answers: ["4", "5", "3"], rewards: [1, 0, 0], probs: [0.5, 0.3, 0.2], ref_probs: [0.4, 0.3, 0.3]};
const out = {};
for (const n of [1, 12, 320, 321, 20000]) {
  const history = Array.from({length: n}, (_, i) => 0.5 + 0.4 * Math.sin(i / 50));
  out[n] = {steps: view.sparkSteps(n), svg: view.render({...base, history})};
}
console.log(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (scripts/setup.sh installs it)")
    dest = tmp_path_factory.mktemp("views")
    from sitegen.diagnostics import Diagnostics
    demos.stage_views(ROOT, demos.discover(ROOT, Diagnostics(ROOT)), dest)
    r = subprocess.run([node, "--input-type=module", "-e", SCRIPT, str(dest)], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    return {int(k): v for k, v in json.loads(r.stdout).items()}


def polyline_points(svg: str) -> list[tuple[float, float]]:
    pts = re.search(r'<polyline class="spark" points="([^"]*)"', svg).group(1).split()
    return [tuple(map(float, p.split(","))) for p in pts]


def test_short_runs_draw_every_step(drawn):
    """Up to 320 steps nothing changes: every step is a point (and the build's first frames stay as they were)."""
    for n in (1, 12, 320):
        assert drawn[n]["steps"] == list(range(n))
        assert len(polyline_points(drawn[n]["svg"])) == n


def test_long_runs_draw_320_evenly_spaced_steps_first_and_last_included(drawn):
    for n in (321, 20000):
        steps = drawn[n]["steps"]
        assert len(steps) == 320 and steps[0] == 0 and steps[-1] == n - 1
        gaps = [b - a for a, b in zip(steps, steps[1:])]
        assert min(gaps) >= 1 and max(gaps) - min(gaps) <= 1            # strictly increasing, even spacing
        xs = [x for x, _ in polyline_points(drawn[n]["svg"])]
        assert len(xs) == 320 and xs == sorted(xs)
    # the 20000-step chart spans the same width as a 320-step one: the last point is at the right edge
    assert polyline_points(drawn[20000]["svg"])[-1][0] == polyline_points(drawn[320]["svg"])[-1][0]
