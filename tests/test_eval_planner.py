"""lewm.eval_planner: the planner settings an agent ships with are replayed (its eval.json, or settings stored in
the checkpoint), flags override them one by one, ``--protocol paper`` selects the paper's solver, an unusable
settings file is one error naming it, and one line says which settings were used and from where."""
import json
import pathlib

import pytest

from lewm.eval_planner import resolve_planner, shipped_planner
from lewm.planning import PAPER_PLANNER, PlannerConfig

SHIPPED = pathlib.Path(__file__).resolve().parents[1] / "checkpoints" / "two_room"


def _shipped_settings() -> dict:
    with open(SHIPPED / "eval.json") as f:
        return json.load(f)["planner"]


def test_shipped_settings_are_replayed_and_flags_override_them():
    ckpt = str(SHIPPED / "model.pt")
    want = PlannerConfig(**_shipped_settings())
    assert (want.cost_steps, want.receding_horizon, want.iterations) == ("all", 1, 10)  # what it ships with
    pcfg, line = resolve_planner(ckpt)
    assert pcfg == want
    assert line == (f"planner: cem 300 samples / top 30 / 10 iterations, horizon 5, re-plan every 1, cost on all "
                    f"— from {SHIPPED / 'eval.json'}")
    pcfg, line = resolve_planner(ckpt, flags={"iterations": 3, "num_samples": None, "cost_steps": "last"})
    assert (pcfg.iterations, pcfg.cost_steps, pcfg.num_samples, pcfg.receding_horizon) == (3, "last", 300, 1)
    assert line.endswith("overridden by --iterations, --cost-steps")
    assert shipped_planner(str(SHIPPED)) == (_shipped_settings(), str(SHIPPED / "eval.json"))  # a folder works too


def test_paper_protocol_ignores_the_shipped_settings():
    pcfg, line = resolve_planner(str(SHIPPED / "model.pt"), "paper")
    assert pcfg == PAPER_PLANNER
    assert (pcfg.num_samples, pcfg.topk, pcfg.iterations, pcfg.horizon, pcfg.receding_horizon) == (300, 30, 30, 5, 5)
    assert "from the paper's protocol (--protocol paper)" in line
    pcfg, _ = resolve_planner(str(SHIPPED / "model.pt"), "paper", {"horizon": 3, "receding_horizon": 3})
    assert (pcfg.horizon, pcfg.receding_horizon, pcfg.iterations) == (3, 3, 30)


def test_settings_stored_in_the_checkpoint_then_the_defaults(tmp_path):
    from lewm import checkpoint
    from lewm.config import get_preset
    from lewm.model import LeWM
    cfg = get_preset("cpu-tiny")
    stored = str(tmp_path / "a" / "model.pt")
    checkpoint.save(stored, LeWM(cfg.model), cfg, 1, {"planner": {"iterations": 7, "receding_horizon": 2}})
    pcfg, line = resolve_planner(stored)
    assert (pcfg.iterations, pcfg.receding_horizon, pcfg.num_samples) == (7, 2, 300)
    assert f"from {stored} (its stored planner settings)" in line
    plain = str(tmp_path / "b" / "model.pt")
    checkpoint.save(plain, LeWM(cfg.model), cfg, 1, {})
    pcfg, line = resolve_planner(plain)
    assert pcfg == PlannerConfig() and "the library defaults (no eval.json beside the checkpoint)" in line
    assert resolve_planner(str(tmp_path / "missing.pt"))[0] == PlannerConfig()  # evaluate() reports it later


@pytest.mark.parametrize("doc,match", [
    ("{not json", "eval.json: not readable JSON"),
    (json.dumps({"success_rate": 1.0}), "eval.json: no 'planner' object"),
    (json.dumps({"planner": {"iterations": 3, "elites": 4}}), r"eval.json: unknown planner setting\(s\) \['elites'\]"),
    (json.dumps({"planner": {"iterations": 0}}), r"eval.json: planner.iterations must be in \[1, 10000\], got 0"),
    (json.dumps({"planner": {"num_samples": 20}}),  # no flag given: the file is named, not --topk (round 8)
     r"eval.json: planner.topk 30 must be <= planner.num_samples 20 \(a setting it leaves out takes the library default\)"),
])
def test_an_unusable_eval_json_is_one_clear_error(tmp_path, doc, match):
    (tmp_path / "eval.json").write_text(doc)
    with pytest.raises(ValueError, match=match):
        resolve_planner(str(tmp_path / "model.pt"))


def test_lewm_evaluate_still_exports_the_planner_names():
    import lewm.eval_planner as ep
    import lewm.evaluate as ev
    for name in ("resolve_planner", "shipped_planner", "FLAGS", "FLAG_OF", "SOLVER_USES", "PROTOCOLS"):
        assert getattr(ev, name) is getattr(ep, name)
