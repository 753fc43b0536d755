"""Package structure (issue 21): every module imports, no import cycles, the arrows point one way
(app/CLI -> train / planning / diagnostics -> model / data / checkpoint -> config; environments
reached only by collection, evaluation and diagnostics), small modules."""
from __future__ import annotations

import ast
import importlib
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "lewm"

# module-level import cycles allowed for now (frozensets of module names); keep this empty
KNOWN_MODULE_CYCLES: set[frozenset[str]] = set()
# cycles closed only by an import inside a function (lazy: they load, but the two modules still
# depend on each other). Checked for the modules issue 21 has restructured so far (LAZY_CHECKED);
# the known ones below are tolerated
LAZY_CHECKED = ("lewm.checkpoint", "lewm.official", "lewm.errors", "lewm.diagnostics", "lewm.train",
                "lewm.distributed", "lewm.loss", "lewm.data", "lewm.planning", "lewm.jobs", "lewm.runs",
                "lewm.progress", "lewm.evaluate", "lewm.validate", "lewm.config", "lewm.env_names",
                "lewm.devices", "lewm.figures", "lewm.report")
KNOWN_LAZY_CYCLES: set[frozenset[str]] = set()


def _modules() -> dict[str, pathlib.Path]:
    """{dotted name: path} of every module under lewm/ (packages by their __init__)."""
    out = {}
    for p in sorted(ROOT.rglob("*.py")):
        parts = list(p.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


MODULES = _modules()


def _top_level(body: list[ast.stmt]):
    """Statements run when the module loads: the body, into if/try/with blocks, not into functions
    or classes, skipping ``if TYPE_CHECKING:`` blocks."""
    for node in body:
        if isinstance(node, ast.If):
            test = node.test
            if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
               (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"):
                yield from _top_level(node.orelse)
                continue
            yield from _top_level(node.body)
            yield from _top_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *[h.body for h in node.handlers]):
                yield from _top_level(block)
        elif isinstance(node, ast.With):
            yield from _top_level(node.body)
        else:
            yield node


def _imports(name: str, path: pathlib.Path, lazy: bool) -> set[str]:
    """The ``lewm.*`` modules that module ``name`` imports (``lazy``: also inside functions).

    ``from . import x`` counts as importing the submodule ``x``; importing ``a.b`` is not counted
    as importing the package ``a`` (that would make every package that re-exports a cycle)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes = ast.walk(tree) if lazy else _top_level(tree.body)
    out = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}
    return {m for m in out if m in MODULES and m != name}


def _graph(lazy: bool) -> dict[str, set[str]]:
    return {m: _imports(m, p, lazy) for m, p in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(frozenset(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


@pytest.mark.parametrize("name", sorted(m for m in MODULES if m != "lewm.__main__"))
def test_every_module_imports(name):
    importlib.import_module(name)


def test_no_module_level_import_cycle():
    cycles = [sorted(c) for c in _cycles(_graph(lazy=False)) if c not in KNOWN_MODULE_CYCLES]
    assert not cycles, f"module-level import cycles among lewm.*: {cycles}"


def test_no_import_cycle_through_function_imports_in_checked_modules():
    cycles = _cycles(_graph(lazy=True))
    bad = [sorted(c) for c in cycles
           if c not in KNOWN_LAZY_CYCLES and any(m == p or m.startswith(p + ".") for m in c for p in LAZY_CHECKED)]
    assert not bad, f"import cycles through {LAZY_CHECKED} (counting imports inside functions): {bad}"

def test_graph_builder_sees_relative_and_lazy_imports():
    eager, lazy = _graph(lazy=False), _graph(lazy=True)
    assert {"lewm.official", "lewm.errors"} <= eager["lewm.checkpoint"]
    assert "lewm.diagnostics" in eager["lewm.report.build"]  # from .. import diagnostics as dg
    assert "lewm.report.build" in eager["lewm.report"]
    assert "lewm.diagnostics.encoding" in eager["lewm.diagnostics.landscape"]
    assert "lewm.data" not in eager["lewm.diagnostics.dynamics"]
    assert "lewm.data" in lazy["lewm.diagnostics.dynamics"]  # action_stats_of, imported inside a function


def test_checkpoint_depends_on_official_one_way():
    lazy = _graph(lazy=True)
    assert "lewm.checkpoint" not in lazy["lewm.official"]
    assert lazy["lewm.errors"] == set()
    from lewm.checkpoint import CheckpointError
    from lewm.errors import CheckpointError as Same
    assert CheckpointError is Same and issubclass(CheckpointError, ValueError)


def test_diagnostics_modules_are_small():
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in (ROOT / "diagnostics").glob("*.py")}
    assert len(sizes) > 5
    big = {n: s for n, s in sizes.items() if s > 500}
    assert not big, f"lewm/diagnostics modules over 500 lines: {big}"


def test_diagnostics_package_exports_every_name():
    import lewm.diagnostics as dg
    missing = [n for n in dg.__all__ if not hasattr(dg, n)]
    assert not missing
    # defined in one instrument module each, re-exported unchanged
    assert dg.probe.__module__ == "lewm.diagnostics.probes"
    assert dg.state_grid_warp.__module__ == "lewm.diagnostics.grid_warp"
    assert dg._upsampling_plan(64) == (4, 4)


def _deps(name: str, graph) -> set[str]:
    """What ``name`` or any of its submodules imports (lazy imports included), outside itself."""
    return {d for m, ds in graph.items() if m == name or m.startswith(name + ".") for d in ds
            if not (d == name or d.startswith(name + "."))}


def _hits(deps: set[str], targets) -> set[str]:
    return {d for d in deps for t in targets if d == t or d.startswith(t + ".")}


def test_planning_needs_no_trainer_no_environment_no_diagnostics():
    lazy = _graph(lazy=True)
    assert "lewm.planning.stepwise" in MODULES and "lewm.planning.cem" in MODULES
    bad = _hits(_deps("lewm.planning", lazy), ("lewm.train", "lewm.envs", "lewm.diagnostics", "lewm.jobs",
                                               "lewm.evaluate", "lewm.cli", "lewm.report", "lewm.distributed"))
    assert not bad, f"lewm.planning imports {sorted(bad)}"


def test_lower_layers_never_import_upper_ones():
    """model / data / checkpoint / config (and their leaf helpers) know nothing of training,
    planning, diagnostics, the environments or the front ends."""
    lazy = _graph(lazy=True)
    lower = ("lewm.config", "lewm.validate", "lewm.paths", "lewm.env_names", "lewm.model", "lewm.data", "lewm.checkpoint",
             "lewm.official", "lewm.errors", "lewm.metrics", "lewm.sigreg", "lewm.precision", "lewm.synthetic",
             "lewm.runs", "lewm.progress", "lewm.devices")
    upper = ("lewm.train", "lewm.planning", "lewm.diagnostics", "lewm.envs", "lewm.evaluate", "lewm.cli",
             "lewm.jobs", "lewm.report", "lewm.bench", "lewm.collect")
    bad = {m: sorted(_hits(_deps(m, lazy), upper)) for m in lower if m in MODULES}
    assert not {m: h for m, h in bad.items() if h}


def test_environments_are_reached_only_by_collection_evaluation_and_diagnostics():
    lazy = _graph(lazy=True)
    allowed = ("lewm.envs", "lewm.collect", "lewm.evaluate", "lewm.diagnostics", "lewm.report", "lewm.figures")
    users = {m for m, ds in lazy.items() if _hits(ds, ("lewm.envs",))}
    bad = sorted(m for m in users if not any(m == a or m.startswith(a + ".") for a in allowed))
    assert not bad, f"modules outside collection/evaluation/diagnostics import lewm.envs: {bad}"


def test_planning_package_exports_what_its_callers_import():
    import lewm.planning as pl
    missing = [n for n in pl.__all__ if not hasattr(pl, n)]
    assert not missing
    # every name imported from lewm.planning anywhere in the project resolves
    repo = ROOT.parent
    used = set()
    for p in [*repo.glob("lewm/**/*.py"), *repo.glob("app/**/*.py"), *repo.glob("scripts/*.py"), *repo.glob("tests/*.py")]:
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module in ("lewm.planning", "planning") and \
                    (node.module == "lewm.planning" or (node.level == 1 and p.parent == ROOT)):
                used |= {a.name for a in node.names}
    assert {"PlannerConfig", "run_episode", "cem", "LatentGoalCost", "setup_plan", "plan_recorded"} <= used
    assert not [n for n in used if not hasattr(pl, n)]
    assert pl.cem.__module__ == "lewm.planning.cem" and pl.run_episode.__module__ == "lewm.planning.episode"
    assert pl.setup_plan.__module__ == "lewm.planning.stepwise"


def test_evaluation_needs_no_trainer():
    """The evaluation loads a checkpoint and plans: the device helpers live in lewm.devices."""
    bad = _hits(_deps("lewm.evaluate", _graph(lazy=True)), ("lewm.train", "lewm.bench", "lewm.distributed"))
    assert not bad, f"lewm.evaluate imports {sorted(bad)}"

# modules still over the limit, being split elsewhere (issue 21); keep this shrinking
KNOWN_LARGE: set[str] = set()


def test_modules_are_small():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines()) for p in ROOT.rglob("*.py")}
    big = {n: s for n, s in sizes.items() if s > 500 and n not in KNOWN_LARGE}
    assert not big, f"lewm modules over 500 lines: {big}"


def test_core_has_no_streamlit_and_draws_with_one_figure_package():
    """The app renders; lewm builds (lewm.figures): no Streamlit, no hand-made PIL charts in the core."""
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        mods = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        mods |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not any(m.split(".")[0] == "streamlit" for m in mods), name
        if not name.startswith("lewm.figures"):
            drawing = ("plotly.graph_objects", "plotly.subplots", "plotly.express")
            assert not any(m.startswith(drawing) for m in mods), f"{name} draws outside lewm.figures"
    assert "lewm.pngplot" not in MODULES



# ---------------------------------------------------------------------------------------------
# Tests follow the layout (issue 21): lewm/<module>.py -> tests/test_<module>.py and
# lewm/<package>/<module>.py -> tests/test_<package>_<module>.py (__init__, __main__ and _private
# helpers excepted). The few modules tested elsewhere, each with the file that tests it and why:
# ---------------------------------------------------------------------------------------------
TESTED_ELSEWHERE = {
    # one exception class; its identity and base are checked in test_checkpoint_depends_on_official_one_way
    "lewm.errors": "tests/test_structure.py",
    # data classes only (no behaviour); their fields are checked on a known loop in test_planning_sampling
    "lewm.planning.records": "tests/test_planning_sampling.py",
    # the solvers are tested side by side: known minima and stored plans, one parametrized test over the three
    "lewm.planning.mppi": "tests/test_planning_solvers.py",
    "lewm.planning.grad": "tests/test_planning_solvers.py",
    # CUDA graphs need a GPU: test_graphed_cost_matches_the_eager_cost (skipped without one)
    "lewm.planning.graphed_cost": "tests/test_gpu.py",
}


def _test_module(name: str) -> pathlib.Path:
    """``lewm.a.b`` -> tests/test_a_b.py."""
    return ROOT.parent / "tests" / ("test_" + "_".join(name.split(".")[1:]) + ".py")


def test_every_module_has_its_test_module():
    core = {m for m, p in MODULES.items() if p.name not in ("__init__.py", "__main__.py") and not p.stem.startswith("_")}
    assert {"lewm.config", "lewm.report.build", "lewm.figures.curves", "lewm.diagnostics.probes"} <= core
    missing = sorted(m for m in core if not _test_module(m).exists() and m not in TESTED_ELSEWHERE)
    assert not missing, f"lewm modules without their tests/test_<package>_<module>.py: {missing}"
    # the exceptions stay true: each is a module, still without a same-named test file, tested where it says
    for m, where in TESTED_ELSEWHERE.items():
        assert m in core and not _test_module(m).exists(), m
        assert (ROOT.parent / where).exists(), where

# ---------------------------------------------------------------------------------------------
# The app (issue 21): small files, one concept each, imports pointing one way (common is the root)
# ---------------------------------------------------------------------------------------------
APP = ROOT.parent / "app"
APP_MODULES = {p.stem: p for p in APP.glob("*.py")}  # imported by bare name (app/ is on sys.path)


def _app_imports(path: pathlib.Path, lazy: bool = False) -> set[str]:
    """The app modules ``path`` imports (``import X`` / ``from X import y``; ``lazy``: also inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in (ast.walk(tree) if lazy else _top_level(tree.body)):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module.split(".")[0])
    return {m for m in out if m in APP_MODULES and APP_MODULES[m] != path}


def test_app_files_are_small():
    sizes = {str(p.relative_to(APP)): len(p.read_text(encoding="utf-8").splitlines()) for p in APP.rglob("*.py")}
    assert "common.py" in sizes and "app_pages/planner.py" in sizes
    big = {n: s for n, s in sizes.items() if s > 500}
    assert not big, f"app files over 500 lines: {big}"


def test_app_modules_have_no_import_cycle_and_common_imports_none_of_them():
    for lazy in (False, True):
        graph = {m: _app_imports(p, lazy) for m, p in APP_MODULES.items()}
        assert {"discovery", "cache", "pickers", "widgets"} <= set(graph)
        assert "common" in graph["discovery"] and "discovery" in graph["cache"]  # the scan sees the arrows
        cycles = [sorted(c) for c in _cycles(graph)]
        assert not cycles, f"import cycles among app modules ({'lazy' if lazy else 'top-level'}): {cycles}"
        assert graph["common"] == set(), f"app/common.py (the bootstrap) imports {graph['common']}"
    # the pages use the helpers from where they live: nothing is reached through common
    for p in [*APP.rglob("*.py"), *(ROOT.parent / "tests").glob("test_app*.py")]:
        text = p.read_text(encoding="utf-8")
        for name in ("fig_", "lewm_runs", "lewm_jobs", "pick_dataset", "load_checkpoint", "rel(", "mtime("):
            assert f"common.{name}" not in text, f"{p.name} says common.{name}"
