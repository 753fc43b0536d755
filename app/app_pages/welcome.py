"""Welcome / Learn: what a JEPA world model is, the two losses, SIGReg in one picture."""
import streamlit as st

import common
from lewm import figures
import health
from lewm.diagnostics import collapse_meters, sigreg_view
from lewm.diagnostics import demo_latents

st.title("LeWM Lab")
st.markdown(
    "**LeWorldModel (LeWM)** is a *world model*: a neural network that learns, from raw pixels and the "
    "actions taken, how the world changes — and can then **imagine** the result of actions it has never "
    "tried, which is all a robot needs to **plan**. This lab lets you train one, look inside it, and watch it plan."
)

c1, c2 = st.columns([3, 2])
with c1:
    st.subheader("A JEPA world model in three parts")
    st.markdown(
        """
1. **Encoder** — a small Vision Transformer reads one frame and a BatchNorm projector turns it into a
   latent vector **z** (e.g. 64 numbers). No pixels are ever reconstructed: the model only has to
   *predict in latent space*. That is the *Joint-Embedding Predictive Architecture* (JEPA) idea.
2. **Predictor** — a causal transformer takes the recent latents and the next **action** (injected with
   AdaLN-zero) and predicts the next latent **ẑ**.
3. **Planner** — to reach a goal image, encode it, then search for actions whose *imagined* final latent
   is closest to the goal latent (Cross-Entropy Method, CEM). Execute, observe, re-plan.
"""
    )
    st.subheader("Two losses, trained end to end")
    st.latex(r"\mathcal{L} \;=\; \underbrace{\tfrac{1}{D}\,\lVert \hat z_{t+1} - z_{t+1} \rVert^2}_{\text{prediction}}"
             r"\;+\;\lambda\,\underbrace{\mathrm{SIGReg}(Z)}_{\text{keep latents Gaussian}}")
    st.markdown(
        """
The prediction loss alone has a trivial solution: map **every** frame to the same vector — the
prediction is then perfect and the model is useless (**collapse**). Older JEPAs fight this with tricks
(stop-gradients, EMA teachers). LeWM uses one principled regulariser instead:

**SIGReg** (Sketched Isotropic Gaussian Regulariser) draws random directions **u**, projects the batch of
latents onto each one (*h = z·u*), and measures with the **Epps–Pulley** test how far each 1-D
histogram is from a standard normal N(0, 1). If *every* 1-D projection is N(0, 1), the whole cloud is an
isotropic Gaussian (Cramér–Wold) — spread out in all directions, so it cannot collapse.
"""
    )
with c2:
    st.subheader("SIGReg in one picture")
    kind = st.radio("Latent cloud", ["gaussian", "scaled", "line", "collapsed"], horizontal=True, key="welcome_kind",
                    format_func={"gaussian": "isotropic Gaussian", "scaled": "wrong scale/mean",
                                 "line": "collapsed to a line", "collapsed": "collapsed to a point"}.get)
    z = demo_latents(kind, n=1024, dim=16, seed=0)
    view = sigreg_view(z, num_dirs=6, seed=1)
    meters = collapse_meters(z)
    st.plotly_chart(figures.fig_sigreg_hist(view, title="6 random projections", cols=3), key="welcome_hist",
                    config={"displayModeBar": False})
    m1, m2, m3 = st.columns(3)
    m1.metric("SIGReg", f"{view.value:.2f}", help="mean Epps–Pulley statistic: near 0 for an N(0, I) cloud, "
              "large when it departs")
    m2.metric("eff. rank (shape)", f"{meters.effective_rank:.1f}/16",
              help="how many directions the cloud really uses — scale-free: blind to how small the cloud is")
    m3.metric("std per dim (scale)", f"{meters.mean_std:.2g}", help="how big the cloud is; target 1")
    health.badge(health.verdict(meters.mean_std, meters.effective_rank, 16), "this demo cloud")
    st.caption("1024 samples in 16 dimensions, projected on 6 random unit directions. Grey dots: the N(0,1) "
               "density SIGReg pulls every projection towards. EP = the Epps–Pulley statistic of that projection.")

st.divider()
st.subheader("Explore")
cols = st.columns(3)
links = [
    ("app_pages/data.py", "Data", "Collect episodes from Two-Room, PushT or Reacher; scrub through frames, actions and the true state."),
    ("app_pages/train.py", "Train (live)", "Train a LeWM in the background and watch the losses, the SIGReg histograms and the effective rank live."),
    ("app_pages/collapse.py", "Collapse lab", "Two runs side by side: SIGReg on vs λ = 0. Watch the second one collapse."),
    ("app_pages/latent.py", "Latent space", "PCA / UMAP map of a checkpoint's latents coloured by the true position; linear probes."),
    ("app_pages/dynamics.py", "Dynamics", "Imagined vs actual latent trajectories; surprise when objects teleport or change colour."),
    ("app_pages/planner.py", "Planner", "Pick a start and a goal, step through CEM iterations, then watch the agent plan its way there."),
]
for i, (page, title, text) in enumerate(links):
    with cols[i % 3]:
        with st.container(border=True):
            st.page_link(page, label=f"**{title}**", icon=common.PAGES[page][1])
            st.caption(text)
st.caption("Paper: Maes, Le Lidec, Scieur, LeCun, Balestriero (2026), *LeWorldModel: Stable End-to-End "
           "Joint-Embedding Predictive Architecture from Pixels*, arXiv 2603.19312.")
