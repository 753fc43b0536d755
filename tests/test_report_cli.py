"""``python -m lewm report`` (lewm.report.cli): the CLI end to end on a small untrained checkpoint, the JSON
keys, the self-contained report.html, the reference set without --data."""
import json
import os
import shutil

from _report import KEYS, _tiny_checkpoint, assert_self_contained


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
