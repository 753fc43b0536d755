"""lewm.report.build: the keys a report writes, the grid-warp section (JSON, figure, summary line)."""
import json

import torch

from lewm.config import get_preset
from lewm.model import LeWM
from _report import KEYS, SHIPPED


def test_report_json_keys_match_the_shipped_report():
    """The keys a report writes are those of the shipped Two-Room report (made before lewm.figures)."""
    shipped = json.loads(SHIPPED.read_text())
    assert set(shipped) == KEYS | {"landscape", "grid_warp"}


def test_reportgrid_warp_section_json_figure_and_summary(one_thread):
    from lewm.report import build, summary_text
    torch.manual_seed(0)
    cfg = get_preset("cpu-tiny").with_overrides(env="two_room")
    out = build.grid_warp_section(LeWM(cfg.model), cfg, "two_room", lambda *a: None, n=9)
    assert out is not None
    js, fig = out
    assert js["dims"] == ["agent_x", "agent_y"] and js["grid"] == 9 and 0 < js["valid_cells"] < 81
    assert set(js["regions"]) == {"left room", "right room"} and set(js["region_angle_deg"]) == {"agent_x", "agent_y"}
    assert all(0.0 <= v <= 1.0 for v in js["linear_r"].values())
    assert len(fig.data) == 2 * 2 * 9 and fig.layout.title.text.startswith("in z: affine r")
    assert build.grid_warp_section(LeWM(cfg.model), cfg, "synthetic_dot", lambda *a: None) is None
    line = [l for l in summary_text({"collapse": {"effective_rank": 1.0, "latent_dim": 2, "top1_fraction": 0.5,
                                                  "mean_cosine": 0.0, "mean_std": 1.0}, "sigreg": {"value": 0.1},
                                     "grid_warp": js}).splitlines() if "state grid" in l]
    assert len(line) == 1 and "readout directions differ" in line[0]
