"""Planner: pick a start and a goal, step through CEM / MPPI / gradient iterations in latent space,
compare the best imagined future with what really happens, then run a full MPC episode."""
import threading
import time
from dataclasses import replace as dc_replace

import numpy as np
import streamlit as st
import torch

import cache
import discovery
import pickers
import plan_runs
import planner_defaults  # the settings' defaults from eval.json, and their notes
import widgets
from lewm import figures
import health
from lewm.envs import list_envs, missing_packages
from lewm.planning import canvas_grid, clamp_state, execute_plan, imagine_candidate, plan_recorded, setup_plan
from lewm.planning import PlannerConfig, run_episode
from lewm.planning.config import COST_STEPS


class EpisodeStopped(Exception):
    """Raised from :meth:`WatchedEnv.step` once the episode's stop event is set (the user pressed Stop, left
    the page, or started another episode): run_episode ends between two MPC steps."""


class WatchedEnv:
    """The session's env as run_episode sees it, counting steps and keeping the last frame (read by the
    page thread for the progress bar; only plain attributes are shared). Once ``stop`` is set, the next env
    step raises :class:`EpisodeStopped` (was: the thread ran the whole budget after the page was left)."""

    def __init__(self, env, stop: threading.Event | None = None):
        self._env, self.steps, self.last_frame = env, 0, None
        self.stop = stop if stop is not None else threading.Event()

    def reset(self, *a, **k):
        out = self._env.reset(*a, **k)
        self.last_frame = out[0]
        return out

    def step(self, action):
        if self.stop.is_set():
            raise EpisodeStopped(f"stopped at env step {self.steps}")
        out = self._env.step(action)
        self.steps += 1
        self.last_frame = out[0]
        return out

    def __getattr__(self, name):
        return getattr(self._env, name)


st.title("Planner")
model, cfg, meta, ckpt = pickers.require_checkpoint()
pickers.checkpoint_caption(cfg, meta, ckpt)
if cfg.env not in list_envs():
    st.error(f"{discovery.rel(ckpt)}: trained on '{cfg.env or 'unknown'}' data, which has no simulator to plan in "
             f"here{missing_packages(cfg.env)}. Pick a checkpoint of one of {', '.join(list_envs())}.")
    st.stop()
env = cache.make_env(cfg.env, cfg.model.image_size)
is_room = cfg.env == "two_room"
names = list(env.state_names)

with st.expander("Reference data (for the latent map and for showing imagined latents as nearest frames)",
                 expanded=not discovery.has_matching_dataset(cfg)):
    path, info = pickers.pick_dataset("plan_data", cfg=cfg)
if path is None:
    st.warning("Pick or collect a reference dataset above (it must match the checkpoint's environment and image size).")
    st.stop()
args = (ckpt, discovery.mtime(ckpt), path, discovery.mtime(path), 2000)
enc = cache.encoded_dataset(*args)
health.badge_for_encoded(*args)
lmap = cache.get_latent_map(*args, "umap") if cache.has_latent_map(*args, "umap") else cache.get_latent_map(*args, "pca")

# ------------------------------------------------------------------ start and goal
st.subheader("1 · Start and goal")
sources = ["Evaluation pair", "From the dataset"] + (["Click on the canvas"] if is_room else []) + ["Coordinates"]
src = st.radio("Choose them from", sources, horizontal=True, key="plan_source")
if "plan_start" not in st.session_state or st.session_state.get("plan_env") != cfg.env:
    # first visit, or a checkpoint of another env: the old start and goal are not states of this world (a
    # Two-Room (x, y) fed to the Reacher raised; Reacher angles became the corner (21, 21) with 4 warnings)
    old_env = st.session_state.get("plan_env") if "plan_start" in st.session_state else None
    s0, g0 = cache.eval_pairs(cfg.env, 20, 0)[0]
    st.session_state["plan_start"], st.session_state["plan_goal"] = list(map(float, s0)), list(map(float, g0))
    st.session_state["plan_env"] = cfg.env
    for k in [k for k in st.session_state if str(k).startswith(("plan_s_", "plan_g_"))]:
        del st.session_state[k]  # before the Coordinates inputs exist: they take the new values
    if old_env is not None and src in ("Coordinates", "Click on the canvas"):
        st.info(f"The checkpoint's environment changed ({old_env} → {cfg.env}): start and goal reset to "
                f"evaluation pair 0 of {cfg.env}.", icon=":material/restart_alt:")

if src == "Evaluation pair":
    pairs = cache.eval_pairs(cfg.env, 20, 0)
    i = st.number_input("Pair (the paper's protocol: goal = state 25 steps later on an expert trajectory)",
                        0, len(pairs) - 1, 0, key="plan_pair")
    st.session_state["plan_start"], st.session_state["plan_goal"] = list(map(float, pairs[i][0])), list(map(float, pairs[i][1]))
elif src == "From the dataset":
    if not info["has_state"]:
        st.error(f"{discovery.rel(path)}: no 'state' key, so start and goal states cannot be read from it.")
        st.stop()
    c1, c2, c3 = st.columns(3)
    e, epi = widgets.pick_episode(c1, path, info, "plan_ep")
    if len(epi["state"]) < 2:  # a start and a later goal need two frames (number_input's min 1 > max 0 raised)
        st.warning(f"Episode {e} of {discovery.rel(path)} has {len(epi['state'])} frame(s): a start and a goal "
                   f"need at least 2. Pick a longer episode.")
        st.stop()
    T, lost = len(epi["state"]), []  # an offset / start that no longer fit (a shorter episode, the file replaced)
    p_off, p_t0 = st.session_state.get("plan_off"), st.session_state.get("plan_t0")
    if isinstance(p_off, int) and p_off > T - 1:
        del st.session_state["plan_off"]  # was: reset to the default without a word
        lost.append(f"goal offset {p_off}")
    off = c3.number_input("Goal = start + … steps", 1, T - 1, T - 1 if lost else min(25, T - 1), key="plan_off")
    if t0_lost := isinstance(p_t0, int) and p_t0 > T - 1 - off:
        del st.session_state["plan_t0"]
        lost.append(f"start step {p_t0}")
    t0 = c2.number_input("Start step", 0, T - 1 - off, T - 1 - off if t0_lost else 0, key="plan_t0")
    if lost:
        st.info(f"Episode {e} of {discovery.rel(path)} has {T} frames: {' and '.join(lost)} no longer fit; using goal "
                f"offset {off}, start step {t0}.", icon=":material/info:")
    st.session_state["plan_start"] = list(map(float, epi["state"][t0]))
    st.session_state["plan_goal"] = list(map(float, epi["state"][t0 + off]))
    pair = np.asarray([st.session_state["plan_start"], st.session_state["plan_goal"]], np.float64)
    if len(names) != pair.shape[1] or not np.asarray(env.valid_states(pair), bool).all():
        # another tool's file (not checked by the picker): states off the map or in a wall made render_state raise
        st.error(f"{discovery.rel(path)}: episode {e}, steps {t0} and {t0 + off}: states {pair.tolist()} are not "
                 f"states of the {cfg.env} world ({getattr(env, 'world', '')}). Pick another episode or dataset.")
        st.stop()
elif src == "Click on the canvas":
    which = st.radio("A click sets the", ["goal", "start"], horizontal=True, key="plan_click_which")
    grid, ext = canvas_grid(env, 46)
    fig = figures.fig_click_canvas(env.render_state(np.asarray(st.session_state["plan_start"])), grid,
                                   st.session_state["plan_goal"], extent=float(ext[1]))
    ev = st.plotly_chart(fig, key=f"plan_canvas_{which}", on_select="rerun", selection_mode="points",
                         config={"displayModeBar": False})
    pts = ev.selection.points if ev and hasattr(ev, "selection") else []
    if pts:
        xy = [float(pts[0]["x"]), float(pts[0]["y"])]
        tgt = "plan_goal" if which == "goal" else "plan_start"
        new = list(st.session_state[tgt])
        new[:2] = xy
        if new != st.session_state[tgt]:
            st.session_state[tgt] = list(map(float, clamp_state(env, new)))
            st.rerun()
    st.caption("Orange ×: goal. The red dot is the start. Click anywhere in the rooms.")
else:
    c1, c2 = st.columns(2)
    with c1:
        st.markdown("**Start**")
        s = [st.number_input(n, value=float(v), key=f"plan_s_{n}") for n, v in zip(names, st.session_state["plan_start"])]
    with c2:
        st.markdown("**Goal**")
        g = [st.number_input(n, value=float(v), key=f"plan_g_{n}") for n, v in zip(names, st.session_state["plan_goal"])]
    st.session_state["plan_start"] = list(map(float, clamp_state(env, s)))
    st.session_state["plan_goal"] = list(map(float, clamp_state(env, g)))
    for what, typed, used in (("Start", s, st.session_state["plan_start"]), ("Goal", g, st.session_state["plan_goal"])):
        for n, v, u in zip(names, typed, used):  # clamped into the rooms: say so, never silently
            if v != u:
                lo, hi = env.state_bounds[0][names.index(n)], env.state_bounds[1][names.index(n)]
                st.warning(f"{what} {n} = {v:g} is outside the rooms ({lo:g} to {hi:g}): using {u:g}.")

start = np.asarray(st.session_state["plan_start"], np.float64)
goal = np.asarray(st.session_state["plan_goal"], np.float64)
c1, c2, c3 = st.columns([1, 1, 2])
c1.image(figures.upscale(env.render_state(start), 192), caption="start", width=192)
c2.image(figures.upscale(env.render_state(goal), 192), caption="goal", width=192)
with c3:
    st.dataframe({"": names, "start": np.round(start, 2), "goal": np.round(goal, 2)}, hide_index=True)
    st.caption(f"distance by the env's measure: {env.success_distance(start, goal):.2f} "
               f"(success below {env.success_threshold:g})")

STOP_WHY = "Stop pressed, a setting changed or the page was left while it ran"
# the stop notes and the landscape's shown-flag: never st.session_state in an interrupted run (M4, M5)
mailbox = st.session_state.setdefault("plan_mailbox", plan_runs.StopMailbox())
mailbox.settle()  # a run interrupted by this one's click may still be unwinding (fast reruns)
if (note := mailbox.pop_note("landscape")) is not None:
    st.info(note, icon=":material/stop_circle:")


def _land_stopped():  # in the interrupted run: the plain mailbox only
    mailbox.end("landscape", f"The goal-cost landscape was stopped ({STOP_WHY}); press Compute the landscape to "
                f"compute it again.", land_shown=False)  # else the next run would start it again at once


with st.expander("What the planner sees: the goal cost over the whole map"):
    st.caption("Every cell is a rendered state, encoded and scored with the planner's cost ‖z − z_goal‖². "
               "A good world model gives a single basin around the goal that follows the true distance to go "
               "(around walls); stripes, ridges or far-away basins are where planning gets lost.")
    n_grid = st.select_slider("Grid", [16, 24, 32, 48], 24, key="plan_land_n")
    if st.button("Compute the landscape", key="plan_land_go") or mailbox.flags.get("land_shown"):
        mailbox.flags["land_shown"] = True
        mailbox.begin("landscape")
        try:
            L = cache.goal_landscape(ckpt, discovery.mtime(ckpt), tuple(map(float, goal)), int(n_grid),
                                     on_stop=_land_stopped, stop_key="plan_land_stop")
        finally:
            mailbox.end("landscape")  # finished or failed (_land_stopped ended it first when stopped)
        st.plotly_chart(figures.fig_landscape(L, start, names=[names[d] for d in L.dims]), key="plan_land_fig")
        m1, m2 = st.columns(2)
        m1.metric("Rank correlation with the true distance", f"{L.spearman:.2f}", help="Spearman ρ over valid cells; 1 = perfect")
        m2.metric("Greedy step goes the right way", f"{100 * L.greedy_accuracy:.0f}%",
                  help="Cells whose lowest-cost neighbour is truly closer to the goal (chance ≈ 50%)")

# ------------------------------------------------------------------ planner settings
st.subheader("2 · One plan, step by step")

eval_path = discovery.eval_json_path(ckpt)
shipped, eval_notes = discovery.evaluated_planner(ckpt, cfg.env)
dflt, value_notes = planner_defaults.page_defaults(shipped)
if planner_defaults.reset_if_new_origin(st.session_state, planner_defaults.settings_origin(ckpt, shipped)):
    st.info(f"Planner settings reset to {discovery.rel(ckpt)}'s eval.json." if shipped else
            f"Planner settings reset to the page's defaults ({discovery.rel(ckpt)} has no usable eval.json).")
if eval_notes or value_notes:  # one box: what the file holds that the page cannot use as it is
    st.warning("  \n".join(eval_notes + [f"{discovery.rel(eval_path)}: {n}" for n in value_notes]))
LIM = planner_defaults.LIMITS


c = st.columns(7)
solver = c[0].selectbox("Solver", ["cem", "mppi", "grad"], index=["cem", "mppi", "grad"].index(dflt["solver"]),
                        key="plan_solver", help="The default is what this checkpoint's eval.json used",
                        format_func={"cem": "CEM", "mppi": "MPPI", "grad": "gradient (Adam)"}.get)
is_grad = solver == "grad"  # Adam on grad_restarts starts, 3 steps per iteration: no samples, no elites
samples = c[1].number_input("Samples", *LIM["num_samples"], dflt["num_samples"], step=50, key="plan_samples",
                            disabled=is_grad,
                            help="Not used by the gradient solver (it runs Restarts, below)" if is_grad else
                            "Candidate action sequences scored per iteration")
topk = c[2].number_input("Elites", *LIM["topk"], dflt["topk"], key="plan_topk", disabled=is_grad,
                         help="Not used by the gradient solver" if is_grad else "Best candidates kept per iteration")
iters = c[3].number_input("Iterations", *LIM["iterations"], dflt["iterations"], key="plan_iters",
                          help="Gradient solver: 3 Adam steps per iteration" if is_grad else None)
horizon = c[4].number_input("Horizon (blocks)", *LIM["horizon"], dflt["horizon"], key="plan_horizon",
                             help="The default is what this checkpoint's eval.json used")
seed = c[5].number_input("Seed", 0, 10**6, 0, key="plan_seed")
cost_steps = c[6].selectbox(
    "Goal cost", list(COST_STEPS), index=COST_STEPS.index(dflt["cost_steps"]), key="plan_cost_steps",
    format_func={"last": "last block (paper)", "all": "every block", "min": "closest block"}.get,
    help="‖ẑ − z_goal‖² on the last imagined block only (the paper), averaged over every imagined block "
         "(rewards reaching the goal early instead of spreading the move over the whole horizon), or the "
         "smallest over the blocks (the goal reached at any block counts; a route that first moves away is "
         "not penalised). The default is what this checkpoint's eval.json used.")
mean_weight = 0.0
if cost_steps == "min":  # the tie-break of 'min' (the shipped Reacher agent: 0.1)
    mean_weight = st.number_input(
        "… plus this weight × the cost averaged over the blocks", *LIM["cost_mean_weight"],
        float(dflt["cost_mean_weight"]), step=0.05,
        key="plan_cost_mean_weight",
        help="'closest block' alone is indifferent to when the goal is reached; a small weight on the average "
             "prefers the route that gets there sooner and stays. The default is what this checkpoint's eval.json used.")
restarts = PlannerConfig.grad_restarts
if is_grad:
    restarts = st.number_input("Restarts (parallel Adam starts; the best one is kept)", *LIM["grad_restarts"],
                               dflt["grad_restarts"], key="plan_restarts",
                               help="The default is what this checkpoint's eval.json used")
    st.caption(f"Gradient (Adam): Samples and Elites are not used, nor Execute. Each plan runs {int(restarts)} "
               f"restarts × {3 * int(iters)} Adam steps (3 per iteration, learning rate {PlannerConfig.grad_lr:g}) and keeps "
               f"the best.")
plan_from = st.radio(
    "Execute", ["mean", "best"], index=int(dflt["plan_from"] == "best"), key="plan_from", horizontal=True,
    disabled=is_grad,  # was: 'best' could be picked for Adam, which always returns its best restart
    format_func={"mean": "the final sampling mean (paper)", "best": "the best candidate scored"}.get,
    help="CEM / MPPI: what the plan returns. When the elites split between two ways to the goal (a Reacher joint "
         "that can turn either way by ~π), their mean lies between them and the agent can stand still; the best "
         "candidate commits to one. The default is what this checkpoint's eval.json used.")
if topk > samples and not is_grad:  # CEM keeps at most every sample: say that fewer elites are used, never silently
    st.warning(f"Elites {int(topk)} is more than Samples {int(samples)}: planning with {int(samples)} elites "
               f"(Elites must be at most Samples).")
try:
    pcfg = PlannerConfig(solver=solver, num_samples=int(samples), topk=int(min(topk, samples)), iterations=int(iters),
                         horizon=int(horizon), cost_steps=cost_steps, cost_mean_weight=float(mean_weight),
                         plan_from=plan_from,
                         grad_restarts=int(restarts))
except ValueError as e:
    st.error(str(e))
    st.stop()
key = (ckpt, discovery.mtime(ckpt), tuple(start), tuple(goal), pcfg, int(seed))
map_id = (args, lmap.method)
if (note := mailbox.pop_note("plan")) is not None:
    st.info(note, icon=":material/stop_circle:")
if st.button("Plan", type="primary", icon=":material/psychology:", key="plan_go"):
    plan_stop = threading.Event()
    watched_cost = {}

    def _plan():  # the cost is called once per solver iteration: a set plan_stop ends the plan there
        t = time.perf_counter()
        setup = setup_plan(model, cfg, env, start, goal)
        watched_cost["c"] = plan_runs.StoppableCost(setup.cost, plan_stop)
        res = plan_recorded(dc_replace(setup, cost=watched_cost["c"]), cfg, pcfg, seed=int(seed))
        return {"key": key, "setup": setup, "res": res, "secs": time.perf_counter() - t, "views": {}}
    what = (f"GRAD: {3 * pcfg.iterations} Adam steps × {pcfg.grad_restarts} restarts" if is_grad else
            f"{pcfg.solver.upper()}: {pcfg.iterations} iterations × {pcfg.num_samples} candidates")
    work = 3 * pcfg.iterations * pcfg.grad_restarts if is_grad else pcfg.num_samples * pcfg.iterations

    def _plan_stopped():
        n_it = 3 * pcfg.iterations if is_grad else pcfg.iterations
        k = min(getattr(watched_cost.get("c"), "calls", 0), n_it)
        mailbox.end("plan", f"The plan was stopped at {'Adam step' if is_grad else 'iteration'} {k} of {n_it} "
                            f"({STOP_WHY}); press Plan to run it again.")
    mailbox.begin("plan")
    try:
        new_ps = cache.run_with_progress(
            _plan, f"Planning in latent space ({what})", est_s=max(0.5, 0.0005 * work), stop=plan_stop,
            on_stop=_plan_stopped, stop_key="plan_stop_plan")
    finally:
        mailbox.end("plan")
    st.session_state["plan_state"] = new_ps
ps = st.session_state.get("plan_state")


def iteration_figure(ps):
    """The step-through of one plan, built once per plan (and map): for every CEM iteration the
    candidates on the map, their costs, the best candidate's imagined path, its nearest dataset frames
    and what its actions really do in the simulator, all in one figure (lewm.figures.fig_cem_iterations)
    whose own slider steps through the iterations in the browser: a move needs no server round trip."""
    if map_id in ps["views"]:
        return ps["views"][map_id]
    setup, res = ps["setup"], ps["res"]
    nf = cache.nearest_frames(*args)
    build_stop = threading.Event()

    def build():
        out = []
        for rec in res.iterations:
            if build_stop.is_set():  # the page run was interrupted: end here, not after every iteration
                raise plan_runs.Stopped("step-through stopped")
            elite = rec.elite_idx.numpy()
            best_actions = rec.candidates[elite[0]] if rec.candidates is not None else res.actions.cpu()
            best_imag = imagine_candidate(setup, best_actions)
            near = nf.query(best_imag, k=1).frames[:, 0]
            real = execute_plan(env, cfg, start, goal, best_actions)
            P = len(best_imag)
            out.append({
                "costs": rec.costs.numpy(), "elite": elite, "best_cost": rec.best_cost,
                "Z": None if rec.final_latents is None else lmap.transform(rec.final_latents.numpy()),
                "bi": lmap.transform(best_imag),
                "imagined": [setup.start_frame, *near, setup.goal_frame],
                "imagined_labels": ["start"] + [f"imagined {i + 1}" for i in range(P)] + ["goal"],
                "real": [*real["frames"], setup.goal_frame],
                "real_labels": ["start"] + [f"real {i + 1} (d={real['distance'][i + 1]:.0f})" for i in range(P)]
                               + ["goal"]})
        return figures.fig_cem_iterations(lmap.coords, out, lmap.transform(setup.z_start[None]),
                                          lmap.transform(setup.z_goal[None]), f"{lmap.method.upper()} map")
    n_it = len(res.iterations)
    fig = cache.run_with_progress(build, f"Replaying the best candidate of each of the {n_it} iterations "
                                          f"(imagined and in the simulator)", est_s=0.15 * n_it, stop=build_stop,
                                  on_stop=lambda: ps.update(build_stopped=True), stop_key="plan_stop_build")
    ps["views"] = {map_id: fig}
    return fig


def plan_step_view(ps) -> None:
    """The plan's numbers and its step-through figure (stepped through in the browser)."""
    res = ps["res"]
    m = st.columns(3)
    m[0].metric("final plan cost", f"{res.cost:.3g}")  # was .3f: Reacher's ~0.003 read 0.000
    m[1].metric("planning time", f"{res.seconds:.2f} s")
    grad = ps["key"][4].solver == "grad"
    m[2].metric("Adam steps" if grad else "iterations", f"{len(res.iterations)}",
                help=f"3 per iteration, on {ps['key'][4].grad_restarts} restarts" if grad else None)
    st.caption("Move the figure's **Iteration** slider to watch " +
               ("the Adam steps converge (one slider step per Adam step): the restarts'" if grad else
                "CEM converge: the candidates'") + " "
               "imagined end points on the map, their costs, and below, what the best candidate of that iteration "
               "*imagines* (the nearest dataset frame to each imagined latent) and what *really happens* when its "
               "actions are executed.")
    if ps.get("build_stopped") and not st.button("Build the step-through figure", key="plan_build"):
        st.info(f"The step-through figure was stopped ({STOP_WHY}); press Build the step-through figure to build "
                f"it again.", icon=":material/stop_circle:")
        return
    ps.pop("build_stopped", None)
    st.plotly_chart(iteration_figure(ps), key="plan_iterations")


if ps and ps["key"] == key:
    plan_step_view(ps)
else:
    st.info("Press **Plan** to run one plan with every iteration recorded.")

# ------------------------------------------------------------------ full episode
st.subheader("3 · Run the agent (MPC episode)")
c1, c2, c3, c4 = st.columns(4)
budget = c1.number_input("Budget (env steps)", 5, 500, 50, key="plan_budget")
precision = c4.selectbox(
    "Precision", ["auto", "fp32", "bf16"], key="plan_precision",
    help="The model's rollouts during the episode: auto = bf16 autocast on CUDA GPUs and on CPUs with native bf16 "
         "(about 1.5-2x faster CEM iterations, the same success on the shipped Two-Room agent), fp32 elsewhere. "
         "CEM's statistics stay fp32 (lewm/precision.py).")
rh0 = min(dflt["receding_horizon"], int(horizon))
if (rh_was := st.session_state.get("plan_rh")) is not None and rh_was > int(horizon):
    del st.session_state["plan_rh"]  # was: Streamlit reset the out-of-range value to the default (1), silently
    rh0 = int(horizon)
    st.info(f"Blocks executed per plan {int(rh_was)} is more than the Horizon {int(horizon)}: using {int(horizon)}.")
rh = c2.number_input("Blocks executed per plan", 1, int(horizon), rh0, key="plan_rh",
                     help="Receding horizon: execute this many action blocks, then re-plan from the new frame")
fps = c3.slider("Animation speed (frames/s)", 2, 30, 10, key="plan_fps")
if (note := mailbox.pop_note("episode")) is not None:
    st.info(note, icon=":material/stop_circle:")
pc = dc_replace(pcfg, receding_horizon=int(min(rh, horizon)))
ep_settings = {"planner": pc, "seed": int(seed), "budget": int(budget), "precision": precision}
if st.button("Run episode", type="primary", icon=":material/smart_toy:", key="plan_run"):
    dev = next(model.parameters()).device
    gen = torch.Generator(device=dev).manual_seed(int(seed))
    if (old := st.session_state.get("plan_episode_stop")) is not None:
        old.set()  # one episode per session: an earlier one still running ends at its next step
    stop = st.session_state["plan_episode_stop"] = threading.Event()
    watched = WatchedEnv(env, stop)  # counts env steps and keeps the last frame for the progress view
    t = time.perf_counter()
    box = {}

    def _run():
        try:
            box["res"] = run_episode(watched, model, cfg, pc, start, goal, budget=int(budget), generator=gen,
                                     precision=precision)
        except Exception as e:  # noqa: BLE001 - shown to the user below (a thread cannot call st.*)
            box["err"] = e

    th = threading.Thread(target=_run, daemon=True, name="lab-episode")
    th.start()
    # Stop (like any other click, or leaving the page) interrupts this script run: the finally below sets the
    # stop event and the thread ends at its next env step instead of running the whole budget
    st.button("Stop the episode", icon=":material/stop:", key="plan_stop")
    bar, live = st.progress(0.0, text="Planning the first move…"), st.empty()
    shown = -1
    mailbox.begin("episode")
    try:
        while th.is_alive():
            th.join(0.3)
            k, frame = watched.steps, watched.last_frame
            bar.progress(min(k / int(budget), 1.0), text=f"Planning and acting ({pc.solver.upper()}, {dev}): env "
                                                          f"step {k}/{int(budget)} · {time.perf_counter() - t:.0f} s")
            if frame is not None and k != shown:
                live.image(figures.upscale(frame, 192), caption=f"live: step {k}", width=192)
                shown = k
    finally:
        if th.is_alive():  # this run was interrupted (Stop, another widget, another page, the session closed)
            stop.set()  # and no st.session_state here: it raises StopException again (M4)
            mailbox.end("episode", f"The MPC episode was stopped at env step {watched.steps} of {int(budget)} "
                                   f"({STOP_WHY}); press Run episode to run it again.")
        mailbox.end("episode")
    bar.empty()
    live.empty()
    if "res" not in box:
        e = box.get("err")
        st.error(f"The episode stopped at env step {watched.steps}: "
                 + (f"{type(e).__name__}: {e}" if e is not None else "the planning thread ended without a result"))
        st.stop()
    st.session_state["plan_episode"] = {"key": key, "res": box["res"], "wall": time.perf_counter() - t,
                                        "settings": ep_settings}
pe = st.session_state.get("plan_episode")
if pe and pe["key"][:4] == key[:4]:
    if changed := plan_runs.settings_diff(pe.get("settings", {}), ep_settings):  # was: shown as if current
        st.info(f"These results are from earlier settings: {', '.join(changed)}; press Run episode to run it "
                f"with the current ones.", icon=":material/history:")
    epr = pe["res"]
    m = st.columns(5)
    m[0].metric("success", "yes" if epr.success else "no")
    m[1].metric("steps", epr.steps)
    m[2].metric("first success at step", "—" if epr.first_success_step is None else epr.first_success_step)
    m[3].metric("median plan time", f"{np.median(epr.plan_seconds):.2f} s")
    m[4].metric("plans / wall time", f"{len(epr.plan_seconds)} / {pe['wall']:.1f} s")
    a1, a2 = st.columns([3, 2])
    with a1:
        if is_room:
            fig = figures.animation_figure(epr.frames, extent=224.0, states=epr.states, goal_xy=goal[:2],
                                          radius=env.success_threshold, size=384, fps=fps,
                                          title="The agent (red) · goal region (orange)")
        else:
            fig = figures.animation_figure(epr.frames, size=384, fps=fps, title="The agent")
        st.plotly_chart(fig, key="plan_anim", config={"displayModeBar": False})
    with a2:
        st.image(figures.upscale(epr.goal_frame, 192), caption="goal image", width=192)
        d = [env.success_distance(s, goal) for s in epr.states]
        st.plotly_chart(figures.fig_goal_distance(d, env.success_threshold), key="plan_dist")
    if not epr.success:  # say what the agent saw instead of stopping silently (issue 20)
        import planner_failure
        planner_failure.show(model, env, pe, goal, ckpt, names)
