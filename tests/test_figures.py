"""lewm.figures (the package): no Streamlit anywhere in it, every name exported, every builder documented. The
builders' own tests: tests/test_figures_<module>.py."""
import ast
import pathlib

import pytest

from lewm import figures as fg


PKG = pathlib.Path(fg.__file__).parent


def test_package_imports_no_streamlit_and_exports_every_name():
    for p in PKG.glob("*.py"):
        tree = ast.parse(p.read_text(encoding="utf-8"))
        mods = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        mods |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not any(m.split(".")[0] == "streamlit" for m in mods), p.name
    assert all(callable(getattr(fg, n)) or n in ("COLORS", "TEMPLATE") for n in fg.__all__)
    assert all(getattr(fg, n).__module__.startswith("lewm.figures.") for n in fg.__all__ if n.startswith("fig_"))


@pytest.mark.parametrize("name", [n for n in fg.__all__ if n.startswith("fig_") or n == "animation_figure"])
def test_every_builder_is_documented(name):
    assert (getattr(fg, name).__doc__ or "").strip()
