"""Round 30, the field's gym-pusht backend, the planner's later options across the entry points, the lab in a browser
(docs/reliability_round30.md): one test per root, each failing before its fix."""
from __future__ import annotations

import json
import warnings

import pytest
import torch

from _cli_errors import one_error, train_tiny


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A cpu-tiny two_room run (2 steps) on the session's small two_room file."""
    from lewm.collect import collect
    root = tmp_path_factory.mktemp("r30")
    data = root / "tr.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        collect("two_room", 4, str(data), image_size=32, workers=1, episode_len=40, progress=False)
        assert train_tiny(data, root / "run", "--steps", "2") == 0
    return root / "run" / "last.pt", data


# -- P1: one sample: CEM / MPPI score only their mean, and the plan never moves -------------------------------------
def test_p1_one_sample_is_refused_for_the_sampling_solvers():
    """Was: PlannerConfig(num_samples=1) planned the initial guess (zeros) every time without a word."""
    from lewm.planning import PlannerConfig, plan
    for solver in ("cem", "mppi"):
        with pytest.raises(ValueError, match=r"^planner.num_samples must be >= 2 for the (cem|mppi) solver, got 1: "
                                             r".*never leaves its initial guess"):
            PlannerConfig(solver=solver, num_samples=1, topk=1)
    PlannerConfig(solver="grad", num_samples=1, topk=1)  # grad does not read it
    cost = lambda a: ((a - 1) ** 2).sum((1, 2))  # noqa: E731
    r = plan(cost, 3, 2, PlannerConfig(num_samples=2, topk=1, iterations=20), generator=torch.Generator().manual_seed(0))
    assert r.cost < 6.0  # two samples move the plan off zeros (cost 6)


def test_p1_eval_samples_1_names_the_flag(tiny_run, capsys):
    from lewm.cli import main
    ckpt, _ = tiny_run
    assert main(["eval", "--checkpoint", str(ckpt), "--samples", "1", "--episodes", "1", "--threads", "1"]) == 2
    assert one_error(capsys).startswith("error: --samples 1: the cem solver needs 2 or more (its candidate 0 is the "
                                        "current sampling mean")
    assert main(["bench", "plan", "--preset", "cpu-tiny", "--samples", "1", "--threads", "1"]) == 2
    assert "--samples must be in [2, 100000], got 1" in one_error(capsys)


# -- P2: --compile where nothing is compiled ----------------------------------------------------------------------
def test_p2_compile_with_few_candidates_says_so_and_records_it(tiny_run, tmp_path, capsys):
    from lewm.cli import main
    ckpt, _ = tiny_run
    out = tmp_path / "e.json"
    with pytest.warns(UserWarning, match=r"^--compile: 8 candidates per iteration are fewer than the 16"):
        rc = main(["eval", "--checkpoint", str(ckpt), "--compile", "--samples", "8", "--topk", "2", "--iterations",
                   "1", "--episodes", "1", "--budget", "2", "--threads", "1", "--out", str(out)])
    assert rc == 0
    assert json.loads(out.read_text())["compiled_rollout"] is False
    from lewm.evaluate import evaluate  # the gradient solver compiles its restarts' final scoring: 16 or more
    from lewm.planning import PlannerConfig
    with pytest.warns(UserWarning, match=r"^--compile: 2 restarts are fewer than the 16"):
        res = evaluate(str(ckpt), 1, PlannerConfig(solver="grad", grad_restarts=2, iterations=1), budget=1,
                       progress=False, compile_rollout=True)
    assert res["compiled_rollout"] is False


# -- G1: an optional env whose packages are missing -----------------------------------------------------------------
def test_g1_missing_field_packages_are_named_by_the_report(monkeypatch):
    """Was: "its env 'gym_pusht' cannot collect episodes" / "no renderer for 'gym_pusht'", and the goal-cost landscape
    dropped without a line."""
    import lewm.envs as E
    monkeypatch.setattr(E, "ENVS", {k: v for k, v in E.ENVS.items() if k != "gym_pusht"})
    assert E.missing_packages("gym_pusht") == f" ({E.INSTALL_HINT})"
    assert E.missing_packages("gym-pusht") == f" ({E.INSTALL_HINT})"
    assert E.missing_packages("two_room") == "" and E.missing_packages("cube") == "" and E.missing_packages(5) == ""
    from lewm.report.build import _landscape_section
    said = []
    assert _landscape_section(None, None, "gym_pusht", 8, 0, said.append) is None
    assert said == [f"[8/8] no planning cost landscape: no simulator of 'gym_pusht' ({E.INSTALL_HINT})"]


def test_g1_p3_the_planner_page_names_missing_packages_and_greys_execute_for_grad(lab_app):
    """Was: "trained on 'gym_pusht' data, which has no simulator to plan in" (it has one: its packages were missing),
    and 'Execute: the best candidate' could be picked for the gradient solver, which never reads it."""
    import lewm.envs as E
    make, _, monkeypatch = lab_app
    at = make("planner")
    at.selectbox(key="plan_solver").set_value("grad").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key="plan_from").disabled
    monkeypatch.setitem(E.OPTIONAL_ENVS, "two_room", (E.TwoRoom, "a_missing_package"))  # as if it were gym_pusht
    monkeypatch.delitem(E.ENVS, "two_room")
    at = make("planner")
    assert any("no simulator to plan in here (the gym_pusht environment needs the optional field packages" in e.value
               for e in at.error), [e.value for e in at.error]
