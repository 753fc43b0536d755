"""``python -m lewm report`` (lewm.report): the CLI end to end on a small untrained checkpoint, the
JSON keys, the self-contained report.html, and where the episodes come from without --data."""
import json
import os
import pathlib
import re
import shutil

import numpy as np
import pytest
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


def test_report_cli_writes_json_and_one_self_contained_html(syn_h5, tmp_path, one_thread):
    from lewm.cli import main
    from lewm.data import validate_file
    ckpt, _ = _tiny_checkpoint(tmp_path / "m.pt")
    out = tmp_path / "rep"
    rc = main(["report", "--checkpoint", ckpt, "--data", syn_h5, "--out", str(out), "--quick", "--episodes", "4",
               "--max-frames", "240", "--decoder-steps", "5", "--horizon", "3"])
    assert rc == 0
    rep = json.loads((out / "report.json").read_text())
    assert set(rep) == KEYS
    assert rep["frames_encoded"] == 12 * 8 and rep["checkpoint"]["step"] == 3  # every 5th frame of 12 × 40
    assert 1.0 <= rep["collapse"]["effective_rank"] <= 16 and len(rep["collapse"]["spectrum"]) == 16
    assert [r["quantity"] for r in rep["probes"]["linear"]] == ["x", "y"]
    assert [r["quantity"] for r in rep["probes"]["linear_embedding"]] == ["x", "y"]
    assert "E=32" in rep["probe_features"]["linear_embedding"]
    sp = rep["probe_spread"]["pearson"]
    assert set(sp) == {"x", "y"} and all(v["min"] <= v["mean"] <= v["max"] for v in sp.values())
    assert len(rep["dynamics"]["error_mean"]) == 3 and len(rep["episodes"]["ids"]) == 4
    assert set(rep["surprise"]["tests"]) == {"teleport", "colour"}
    assert rep["surprise"]["render_mismatch_fraction"] < 0.01  # the dot renderer redraws the data's frames
    # one page, no pictures beside it
    assert rep["files"] == ["report.html", "report.json"] and sorted(os.listdir(out)) == rep["files"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert_self_contained(html)
    for heading in ("Covariance spectrum", "SIGReg: random projections", "Probes: held-out", "Open-loop dynamics",
                    "Latent map (PCA)", "Surprise (violation of expectation)", "Seeing imagination"):
        assert f"<h2>{heading}" in html, heading
    assert f"{rep['collapse']['effective_rank']:.2f}" in html  # the summary lines head the page
    assert validate_file(syn_h5)["num_episodes"] == 12


def test_report_json_keys_match_the_shipped_report():
    """The keys a report writes are those of the shipped Two-Room report (made before lewm.figures)."""
    shipped = json.loads(SHIPPED.read_text())
    assert set(shipped) == KEYS | {"landscape", "grid_warp"}


def test_report_data_reference_beside_checkpoint_then_collected_then_refused(syn_h5, tmp_path):
    from lewm.data import DataError, validate_file
    from lewm.report.data_source import report_data
    said = []
    # --data given: used as it is
    assert report_data("any.pt", syn_h5, None, str(tmp_path), 4, said.append) == syn_h5 and not said
    # the checkpoint's reference.h5 (file or folder given as the checkpoint)
    folder = tmp_path / "ck"
    folder.mkdir()
    ckpt, cfg = _tiny_checkpoint(folder / "model.pt")
    shutil.copy(syn_h5, folder / "reference.h5")
    for c in (ckpt, str(folder)):
        assert report_data(c, None, cfg, str(tmp_path / "out"), 4, said.append) == str(folder / "reference.h5")
    assert len(said) == 2 and "reference" in said[0]
    # none: held-out episodes of the checkpoint's env, collected into --out (one line says so)
    ckpt2, cfg2 = _tiny_checkpoint(tmp_path / "m2.pt", env="two_room")
    said.clear()
    got = report_data(ckpt2, None, cfg2, str(tmp_path / "out2"), 2, said.append)
    assert got == str(tmp_path / "out2" / "heldout.h5") and len(said) == 1 and "collecting 8 held-out" in said[0]
    info = validate_file(got)
    assert info["env"] == "two_room" and info["num_episodes"] == 8 and info["image_size"] == cfg2.model.image_size
    # an env that cannot collect: one line naming the fix
    with pytest.raises(DataError, match="--data"):
        report_data(str(tmp_path / "m.pt"), None, cfg, str(tmp_path / "out3"), 4, said.append)


def test_report_cli_without_data_uses_the_reference_set(syn_h5, tmp_path, one_thread, capsys):
    from lewm.cli import main
    folder = tmp_path / "ck"
    folder.mkdir()
    ckpt, _ = _tiny_checkpoint(folder / "model.pt")
    shutil.copy(syn_h5, folder / "reference.h5")
    out = tmp_path / "rep"
    rc = main(["report", "--checkpoint", ckpt, "--out", str(out), "--quick", "--episodes", "2", "--max-frames", "240",
               "--decoder-steps", "0", "--horizon", "2", "--no-html"])
    assert rc == 0
    rep = json.loads((out / "report.json").read_text())
    assert rep["data"]["path"] == str(folder / "reference.h5")
    assert "using the reference set beside the checkpoint" in capsys.readouterr().out
    assert rep["files"] == ["report.json"] and os.listdir(out) == ["report.json"]  # --no-html
    assert "decoder" not in rep  # --decoder-steps 0


def test_report_grid_warp_section_json_figure_and_summary(one_thread):
    from lewm.report import build, summary_text
    torch.manual_seed(0)
    cfg = get_preset("cpu-tiny").with_overrides(env="two_room")
    out = build._grid_warp_section(LeWM(cfg.model), cfg, "two_room", lambda *a: None, n=9)
    assert out is not None
    js, fig = out
    assert js["dims"] == ["agent_x", "agent_y"] and js["grid"] == 9 and 0 < js["valid_cells"] < 81
    assert set(js["regions"]) == {"left room", "right room"} and set(js["region_angle_deg"]) == {"agent_x", "agent_y"}
    assert all(0.0 <= v <= 1.0 for v in js["linear_r"].values())
    assert len(fig.data) == 2 * 2 * 9 and fig.layout.title.text.startswith("in z: affine r")
    assert build._grid_warp_section(LeWM(cfg.model), cfg, "synthetic_dot", lambda *a: None) is None
    line = [l for l in summary_text({"collapse": {"effective_rank": 1.0, "latent_dim": 2, "top1_fraction": 0.5,
                                                  "mean_cosine": 0.0, "mean_std": 1.0}, "sigreg": {"value": 0.1},
                                     "grid_warp": js}).splitlines() if "state grid" in l]
    assert len(line) == 1 and "readout directions differ" in line[0]


def test_report_html_is_one_self_contained_page(tmp_path):
    import plotly.graph_objects as go

    from lewm.report.html import write_html
    rep = {"checkpoint": {"path": "m<1>.pt", "step": 1, "preset": "cpu-tiny"}, "data": {"path": "d.h5"},
           "collapse": {"effective_rank": 1.5, "latent_dim": 2, "top1_fraction": 0.5, "mean_cosine": 0.0,
                        "mean_std": np.float32(1.0)}, "sigreg": {"value": float("nan")}}
    figs = [("First", "a sentence", go.Figure(go.Scatter(x=[1, 2], y=[3.25, 4.5]))),
            ("Second", "", go.Figure(go.Bar(x=["a"], y=[7.75])))]
    write_html(str(tmp_path / "r.html"), rep, figs)
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert_self_contained(html)
    assert html.count("Plotly.newPlot") == 2 and "<h2>First</h2><p>a sentence</p>" in html and "<h2>Second</h2>" in html
    assert "3.25" in html and "7.75" in html  # the figures' data
    assert "m&lt;1&gt;.pt" in html and "SIGReg n/a" in html  # escaped path, NaN as n/a
    assert not [p for p in os.listdir(tmp_path) if p != "r.html"]  # no temporary file left
