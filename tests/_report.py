"""Shared by the lewm.report tests: a tiny checkpoint, the report's JSON keys, the self-contained-page check."""
import pathlib
import re

import torch

from lewm.config import get_preset
from lewm.model import LeWM


ROOT = pathlib.Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "checkpoints" / "two_room" / "report" / "report.json"

# written by every report; landscape and grid_warp only for an env with a renderer (not the synthetic dot)
KEYS = {"checkpoint", "data", "settings", "frames_encoded", "collapse", "sigreg", "probes", "probe_features",
        "probe_split", "probe_spread", "episodes", "dynamics", "straightness", "latent_map", "surprise", "decoder",
        "timings_s", "files"}


def _tiny_checkpoint(path, env="synthetic_dot"):
    from lewm import checkpoint
    torch.manual_seed(0)
    cfg = get_preset("cpu-tiny").with_overrides(env=env, action_mean=(0.0, 0.0), action_std=(0.6, 0.6))
    return checkpoint.save(str(path), LeWM(cfg.model), cfg, step=3), cfg


def assert_self_contained(html: str) -> None:
    """plotly.js inline once, no script or stylesheet loaded from elsewhere."""
    assert not re.search(r"<script[^>]*\bsrc\s*=", html), "report.html loads a script from a URL"
    assert not re.search(r"<link[^>]*\bhref\s*=\s*['\"]?https?:", html)
    assert html.count("<script type='text/javascript'>") == 1  # the plotly.js bundle
    assert "Plotly.newPlot" in html
