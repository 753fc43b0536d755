"""The Collapse lab's recorded lesson (issue 20 point 4): SIGReg on vs λ = 0, replayed instantly.

``app/assets/collapse_recording.npz`` is written by ``scripts/record_collapse.py`` (two cpu-tiny
runs on CPU: per-step losses, the batch latents' scale / shape / spectrum every few steps, and the
batch latents themselves at a few steps). :func:`load_recording` reads it (no Streamlit);
:func:`show_recording` draws it with a step slider that re-runs only its fragment.

Scale and shape are told apart everywhere (titles and captions use :data:`TITLES`): a collapse to a
point is a matter of **scale** (latent std → 0, the whole spectrum sinks); the effective rank is
scale-free, it measures **shape** only (how many directions carry the variance).
"""
from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field

import numpy as np

RECORDING = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets", "collapse_recording.npz")
VIEW_DIRS = 6
TITLES = {
    "std": "SCALE · latent std (log): the cloud's size; N(0, I) has 1, a collapse to a point falls towards 0",
    "spectrum": "SCALE · covariance spectrum, absolute level (log): N(0, I) has every eigenvalue at 1",
    "rank": "SHAPE · effective rank (scale-free: counts the directions used, blind to the cloud's size)",
    "pred": "Prediction loss (log): λ = 0 'wins' by collapsing",
}
SCALE_VS_SHAPE = (
    "**Scale** (left column of measures): the latent std and the spectrum's absolute level — a collapse to a "
    "point shows here, by orders of magnitude. **Shape**: the effective rank, computed on the *normalised* "
    "spectrum — it ignores the size of the cloud, so a shrunken cloud's leftover jitter can still use several "
    "directions. A *dimensional* collapse (few directions, normal size) shows in the shape only.")


@dataclass
class RecordedRun:
    lam: float
    step: np.ndarray
    """(S,) every training step."""
    loss: np.ndarray
    pred_loss: np.ndarray
    sigreg: np.ndarray
    view_step: np.ndarray
    """(V,) the steps where the batch latents were measured."""
    mean_std: np.ndarray
    """(V,) scale: mean per-dimension std (target 1)."""
    effective_rank: np.ndarray
    """(V,) shape: effective rank (target D)."""
    spectrum: np.ndarray
    """(V, D) covariance eigenvalues, descending (absolute level; target all 1)."""
    snap_step: np.ndarray
    """(K,) the steps whose batch latents were kept."""
    snap: np.ndarray
    """(K, B, T, D) float16 batch latents."""

    def at(self, step: int) -> int:
        """Index in ``view_step`` of the last measurement at or before ``step``."""
        return int(max(np.searchsorted(self.view_step, step, side="right") - 1, 0))

    def value(self, key: str, step: int) -> float:
        """A per-step series (``loss``, ``pred_loss``, ``sigreg``) at ``step``."""
        i = int(np.clip(np.searchsorted(self.step, step), 0, len(self.step) - 1))
        return float(getattr(self, key)[i])


@dataclass
class Recording:
    runs: list[RecordedRun]
    """[regularised run, λ = 0 run]."""
    meta: dict = field(default_factory=dict)

    @property
    def snap_steps(self) -> list[int]:
        return [int(s) for s in self.runs[0].snap_step]


def load_recording(path: str = RECORDING) -> Recording:
    """The recorded comparison; raises OSError/KeyError/ValueError when the file is missing or damaged."""
    with np.load(path, allow_pickle=False) as z:
        runs = []
        for tag in ("on", "off"):
            g = {k: np.asarray(z[f"{tag}_{k}"]) for k in ("step", "loss", "pred_loss", "sigreg", "view_step",
                                                          "mean_std", "effective_rank", "spectrum", "snap_step",
                                                          "snap")}
            runs.append(RecordedRun(lam=float(z[f"{tag}_lambda"]), **g))
        meta = json.loads(str(z["meta"]))
    return Recording(runs=runs, meta=meta)


# --------------------------------------------------------------------------------------- Streamlit
def _views(rec: Recording):
    """SIGReg views of every kept snapshot, per run (milliseconds each)."""
    from lewm.diagnostics import sigreg_view
    return [[sigreg_view(np.asarray(s, np.float32).transpose(1, 0, 2), num_dirs=VIEW_DIRS, seed=0) for s in r.snap]
            for r in rec.runs]


def show_recording(path: str = RECORDING) -> None:
    """The recorded comparison with a step slider (a fragment: a move redraws only this section)."""
    import streamlit as st

    import discovery
    from lewm import figures
    import health
    import safety
    import widget_memory

    @st.cache_resource(show_spinner=False)
    def cached(p: str, stamp: float):
        rec = load_recording(p)
        return rec, _views(rec)

    try:
        rec, views = cached(path, discovery.mtime(path))
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as e:
        st.warning(f"No recorded comparison to replay (`{discovery.rel(path)}`: {e}). Make it with "
                   f"`python scripts/record_collapse.py`, or run it live below.")
        return
    m = rec.meta
    st.subheader("Recorded: SIGReg on vs λ = 0, replayed instantly")
    st.caption(f"Two {m.get('preset', '?')} runs on {m.get('episodes', '?')} {m.get('env', '?')} episodes at "
               f"{m.get('image_size', '?')} px, batch {m.get('batch_size', '?')}, {m.get('steps', '?')} steps, "
               f"identical but for λ; recorded on CPU in {m.get('seconds', 0):.0f} s by `{m.get('made_by', '')}`. "
               "Want to watch it happen? **Run it live yourself** below.")
    colors = (figures.COLORS["on"], figures.COLORS["off"])

    @safety.fragment
    def replay() -> None:
        steps = rec.snap_steps
        if (kept := st.session_state.get("collapse_rec_step")) is not None and kept not in steps:
            st.session_state["collapse_rec_step"] = steps[-1]  # the recording was remade (round 22, N1)
            st.info(f"Training step {kept} is not in this recording (steps {steps[0]}–{steps[-1]}): using "
                    f"{steps[-1]}.", icon=":material/tune:")
        step = st.select_slider("Training step", options=steps, value=steps[-1], key="collapse_rec_step",
                                on_change=widget_memory.note, args=(st.session_state, "collapse_rec_step"))
        k = steps.index(step)
        cols = st.columns(2)
        for r, col in zip(rec.runs, cols):
            with col:
                i = r.at(step)
                D = r.spectrum.shape[1]
                st.markdown(f"#### {'SIGReg on' if r.lam > 0 else 'SIGReg off'} · λ = {r.lam:g} · step {step}")
                mc = st.columns(2) + st.columns(2)  # 2 x 2: four in a half-page column truncate their values
                mc[0].metric("latent std (scale)", f"{r.mean_std[i]:.3g}", help="mean per-dimension std; target 1")
                mc[1].metric("eff. rank (shape)", f"{r.effective_rank[i]:.1f}/{D}",
                             help="scale-free: how many directions carry the variance; target D")
                mc[2].metric("top eigenvalue (scale)", f"{r.spectrum[i, 0]:.2g}", help="target 1")
                mc[3].metric("pred. MSE", f"{r.value('pred_loss', step):.1e}")
                health.badge(health.verdict(r.mean_std[i], r.effective_rank[i], D), f"step {step}'s training batch")
        left, right = st.columns(2)
        for r, v, col, c in zip(rec.runs, views, (left, right), colors):
            with col:
                st.plotly_chart(figures.fig_sigreg_hist(v[k], title=f"λ = {r.lam:g}", color=c),
                                key=f"collapse_rec_hist_{r.lam:g}")

        def series(key: str):
            return [(f"λ = {r.lam:g}", r.view_step, getattr(r, key), c) for r, c in zip(rec.runs, colors)]

        f_std = figures.fig_series(series("mean_std"), TITLES["std"], "std", log=True, ref=1.0, ref_name="N(0, I)")
        f_spec = figures.fig_spectrum([(f"λ = {r.lam:g}", r.spectrum[r.at(step)], c) for r, c in zip(rec.runs, colors)],
                                     title=TITLES["spectrum"] + f" · step {step}")
        D = rec.runs[0].spectrum.shape[1]
        f_rank = figures.fig_series(series("effective_rank"), TITLES["rank"], "rank", ref=float(D), ref_name=f"D = {D}")
        f_pred = figures.fig_series([(f"λ = {r.lam:g}", r.step, r.pred_loss, c) for r, c in zip(rec.runs, colors)],
                                   TITLES["pred"], "MSE", log=True)
        for f in (f_std, f_rank, f_pred):
            f.add_vline(x=step, line=dict(color="black", dash="dot", width=1))
        for i, f in enumerate((f_std, f_spec, f_rank, f_pred)):
            f.update_layout(height=320, title_font_size=12)
            (left if i % 2 == 0 else right).plotly_chart(f, key=f"collapse_rec_fig{i}")
        st.caption(SCALE_VS_SHAPE)

    replay()
