"""Why does the PushT latent not encode the T-block's angle? Cheap measurements (issue 15, point 1).

Three parts, each timed in CPU seconds (1 thread):

1. ``pixels``: the pixel signal of the angle. A rotation sweep (block centre of gravity fixed, angle
   0..355° in 5° steps, agent parked far away) rendered with ``env.render_state`` at several sizes;
   the mean absolute frame difference and the number of pixels changing by > 10/255 between angles
   5°, 10°, 20°, 45° apart, against a block translation of 10 and 20 world units; at the model's
   image size, how many patches a 20° rotation (or a 20-unit move) touches.
2. ``data``: how much the block rotates, per step and per episode, in the expert HDF5 and in fresh
   random-policy episodes; how many eval pairs need a rotation > 20° and how many already succeed at
   the start; with ``--eval-json``, the shipped agent's successes split by the rotation a pair needs.
3. ``probes``: held-out (split by episode) Pearson r of linear (ridge) and MLP probes for cos/sin of
   the block angle (and, as references, cos/sin of twice the angle, the block and agent positions)
   on the planning latent z, the encoder's CLS embedding, its last-layer patch tokens, the raw
   pixels (PCA to 64 dims) and hand-made block-mask image moments.

    python scripts/pusht_angle_stats.py --data /work/data/pusht.h5 \
        --checkpoint checkpoints/pusht/model.pt --eval-json checkpoints/pusht/eval.json --json out.json
"""
from __future__ import annotations

import os

for _k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_k, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
torch.set_num_threads(1)

from lewm.envs import make  # noqa: E402
from lewm.envs import pusht as pt  # noqa: E402
from lewm.envs.base import wrap_angle  # noqa: E402

DEG = math.pi / 180.0
THRESH = 10  # a pixel "changes" when some channel moves by more than 10/255


class Timer:
    def __init__(self):
        self.cpu, self.wall = time.process_time(), time.perf_counter()

    def done(self) -> dict:
        return {"cpu_s": round(time.process_time() - self.cpu, 1), "wall_s": round(time.perf_counter() - self.wall, 1)}


def q(x, ps=(50, 90, 99)) -> dict:
    x = np.asarray(x, np.float64)
    return {f"p{p}": float(np.percentile(x, p)) for p in ps}


# ---------------------------------------------------------------------------------------------
# 1. pixel signal
# ---------------------------------------------------------------------------------------------
def pose_from_cog(cog, angle: float) -> tuple[float, float]:
    """Body origin (the state's block_x, block_y) that puts the centre of gravity at ``cog``."""
    c, s = math.cos(angle), math.sin(angle)
    lx, ly = pt.COG_LOCAL
    return cog[0] - (c * lx - s * ly), cog[1] - (s * lx + c * ly)


def frame_diff(a: np.ndarray, b: np.ndarray, patch: int | None = None) -> tuple[float, int, int | None]:
    """(mean |a-b| in 0..255 over pixels and channels, #pixels with max-channel |a-b| > THRESH,
    #patch x patch cells holding such a pixel)."""
    d = np.abs(a.astype(np.int16) - b.astype(np.int16))  # (S, S, 3)
    ch = d.max(-1) > THRESH  # (S, S)
    cells = None
    if patch:
        S = ch.shape[0]
        g = S // patch
        cells = int(ch[:g * patch, :g * patch].reshape(g, patch, g, patch).any(axis=(1, 3)).sum())
    return float(d.mean()), int(ch.sum()), cells


def pixel_signal(sizes, cog=(370.0, 150.0), agent=(40.0, 470.0), step_deg=5, rot_deltas=(5, 10, 20, 45),
                 shifts=(10, 20), patch=8) -> dict:
    angles = np.arange(0, 360, step_deg)
    out = {"cog": list(cog), "agent": list(agent), "step_deg": step_deg, "threshold_255": THRESH, "sizes": {}}
    for S in sizes:
        env = make("pusht", image_size=S)

        def render(cx, cy, ang):
            bx, by = pose_from_cog((cx, cy), ang)
            return env.render_state([agent[0], agent[1], bx, by, ang, 0.0, 0.0])

        frames = {int(a): render(cog[0], cog[1], a * DEG) for a in angles}
        blank = env.render_state([agent[0], agent[1], np.nan, np.nan, np.nan, 0.0, 0.0])
        block_px = float(np.mean([(np.abs(frames[int(a)].astype(int) - blank).max(-1) > THRESH).sum() for a in angles]))
        cell = patch if S == sizes[0] else None
        rows = {}
        for dlt in rot_deltas:  # every sweep angle a against a + dlt (wrapping)
            r = [frame_diff(frames[int(a)], frames[int((a + dlt) % 360)], cell) for a in angles]
            rows[f"rot {dlt} deg"] = r
        for sh in shifts:  # every sweep angle, block moved by sh in x and in y
            r = []
            for a in angles:
                for dx, dy in ((sh, 0), (0, sh)):
                    r.append(frame_diff(frames[int(a)], render(cog[0] + dx, cog[1] + dy, a * DEG), cell))
            rows[f"move {sh} units"] = r
        res = {}
        for k, r in rows.items():
            arr = np.array([[x[0], x[1]] for x in r], np.float64)
            res[k] = {"mean_abs_diff": float(arr[:, 0].mean()), "pixels_changed": float(arr[:, 1].mean()),
                      "pixels_changed_min": float(arr[:, 1].min()),
                      "pixels_changed_frac": float(arr[:, 1].mean() / (S * S))}
            if cell:
                c = np.array([x[2] for x in r], np.float64)
                res[k].update({f"patches{patch}_changed": float(c.mean()), f"patches{patch}_changed_min": float(c.min())})
        out["sizes"][str(S)] = {"block_pixels": block_px, "world_units_per_pixel": pt.WORLD / S, "diffs": res}
    out["patch"] = patch
    out["num_patches"] = (sizes[0] // patch) ** 2
    return out


# ---------------------------------------------------------------------------------------------
# 2. rotation in the data, eval pairs
# ---------------------------------------------------------------------------------------------
def rotation_stats(states: np.ndarray, lens: np.ndarray, offs: np.ndarray) -> dict:
    """states (N, 7), per-episode lengths/offsets -> per-step and per-episode rotation figures."""
    steps, tot, net, mv_any, mv_big, pos_tot = [], [], [], [], [], []
    for L, o in zip(lens, offs):
        s = states[o:o + L].astype(np.float64)
        da = np.abs(wrap_angle(np.diff(s[:, 4])))  # (L-1,)
        dp = np.hypot(*np.diff(s[:, 2:4], axis=0).T)  # (L-1,) body-origin displacement
        cog = np.array([pt.block_cog(*x[2:5]) for x in s])
        steps.append(da)
        tot.append(da.sum())
        net.append(abs(wrap_angle(s[-1, 4] - s[0, 4])))
        mv_any.append((da > 1e-5) | (dp > 1e-3))
        mv_big.append((da > 1 * DEG) | (np.hypot(*np.diff(cog, axis=0).T) > 1.0))
        pos_tot.append(np.hypot(*np.diff(cog, axis=0).T).sum())
    st, tot, net = np.degrees(np.concatenate(steps)), np.degrees(tot), np.degrees(net)
    mv_any, mv_big = np.concatenate(mv_any), np.concatenate(mv_big)
    hist, _ = np.histogram(states[:, 4] % (2 * np.pi), bins=36, range=(0, 2 * np.pi))
    return {
        "episodes": int(len(lens)), "steps": int(len(st)),
        "step_abs_dangle_deg": q(st), "step_abs_dangle_deg_moving": q(st[mv_big]) if mv_big.any() else None,
        "frac_steps_block_moves_any": float(mv_any.mean()),
        "frac_steps_block_moves_1u_or_1deg": float(mv_big.mean()),
        "frac_steps_rot_gt_1deg": float((st > 1).mean()), "frac_steps_rot_gt_5deg": float((st > 5).mean()),
        "episode_total_abs_dangle_deg": q(tot), "episode_net_abs_dangle_deg": q(net),
        "frac_episodes_total_gt_20": float((tot > 20).mean()), "frac_episodes_total_gt_90": float((tot > 90).mean()),
        "frac_episodes_net_gt_20": float((net > 20).mean()), "frac_episodes_net_gt_90": float((net > 90).mean()),
        "episode_cog_path_units": q(pos_tot),
        "angle_hist_10deg_bins_share_min_max": [float(hist.min() / hist.sum()), float(hist.max() / hist.sum())],
    }


def random_episodes(n: int, seed: int, length: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from lewm.collect import run_episode
    env = make("pusht", image_size=64)
    st = [run_episode(env, i, seed, length, "random")["state"] for i in range(n)]
    return np.concatenate(st), np.full(n, length), np.arange(n) * length


def eval_pair_stats(seeds, episodes: int, eval_json: str | None) -> dict:
    from lewm.evaluate import eval_pairs
    env = make("pusht", image_size=16)
    out = {}
    for sd in seeds:
        pairs = eval_pairs("pusht", episodes, seed=sd)
        rot = np.array([abs(float(wrap_angle(g[4] - s[4]))) for s, g in pairs]) / DEG
        dist = np.array([env.success_distance(s, g) for s, g in pairs])
        bdist = np.array([math.hypot(g[2] - s[2], g[3] - s[3]) for s, g in pairs])
        ok0 = np.array([env.is_success(s, g) for s, g in pairs])
        r = {"pairs": len(pairs), "rot_needed_deg": q(rot), "frac_rot_gt_20": float((rot > 20).mean()),
             "frac_start_success": float(ok0.mean()), "frac_start_pos_lt_20": float((dist < 20).mean()),
             "start_distance": q(dist), "block_distance": q(bdist)}
        out[str(sd)] = r
        ev = read_eval_json(eval_json) if eval_json and os.path.exists(eval_json) else None
        if ev is not None:
            if int(ev.get("seed", -1)) == sd and ev.get("episodes") == episodes and ev.get("goal_offset", 25) == 25:
                succ = np.array([p["success"] for p in ev["per_episode"]], bool)
                fin = np.array([p["final_distance"] for p in ev["per_episode"]], np.float64)
                big = rot > 20
                r["agent"] = {
                    "eval_json": eval_json, "success_rate": float(succ.mean()),
                    "success_rot_gt_20": [int(succ[big].sum()), int(big.sum())],
                    "success_rot_le_20": [int(succ[~big].sum()), int((~big).sum())],
                    "successes_already_at_start": int((succ & ok0).sum()),
                    "success_rot_le_20_not_at_start": [int((succ & ~big & ~ok0).sum()), int((~big & ~ok0).sum())],
                    "failures_final_pos_lt_20": [int((fin[~succ] < 20).sum()), int((~succ).sum())],
                    "failures_final_distance": q(fin[~succ], (10, 50, 90)),
                }
    return out


def read_eval_json(path: str) -> dict:
    """An evaluation's JSON (``python -m lewm eval --out``) with its per-episode results, or one line naming
    the file (was: a KeyError or an IndexError for another JSON, or one of another number of episodes)."""
    from lewm.validate import check_in_file
    check_in_file(path, "--eval-json")
    try:
        with open(path) as f:
            ev = json.load(f)
    except (UnicodeDecodeError, ValueError) as e:
        from lewm.runs import file_kind
        kind = file_kind(path) if isinstance(e, UnicodeDecodeError) else None  # was: "'utf-8' codec can't decode"
        why = f"it is {kind}" if kind else str(e).splitlines()[0][:120]
        raise ValueError(f"--eval-json {path}: not a JSON file ({why}); give the JSON python -m lewm eval --out "
                         f"writes") from None
    eps = ev.get("per_episode") if isinstance(ev, dict) else None
    if not isinstance(eps, list) or not all(isinstance(p, dict) and "success" in p and "final_distance" in p
                                            for p in eps):
        raise ValueError(f"--eval-json {path}: not an evaluation result (expected 'per_episode': a list of "
                         f"{{'success', 'final_distance', ...}}, as python -m lewm eval --out writes)")
    if ev.get("episodes") != len(eps):
        raise ValueError(f"--eval-json {path}: 'episodes' is {ev.get('episodes')!r} but 'per_episode' holds "
                         f"{len(eps)} episodes")
    return ev


# ---------------------------------------------------------------------------------------------
# 3. probes
# ---------------------------------------------------------------------------------------------
def load_probe_frames(path: str, n_eps: int, stride: int, seed: int):
    import h5py
    with h5py.File(path, "r") as f:
        lens, offs = f["ep_len"][:], f["ep_offset"][:]
        eps = np.sort(np.random.default_rng(seed).choice(len(lens), min(n_eps, len(lens)), replace=False))
        rows = np.concatenate([offs[e] + np.arange(0, lens[e], stride) for e in eps])
        groups = np.concatenate([np.full(len(range(0, lens[e], stride)), e) for e in eps])
        pixels = f["pixels"][rows]  # rows increase: h5py fancy indexing
        states = f["state"][rows].astype(np.float64)
    return pixels, states, groups


@torch.no_grad()
def encode_all(model, pixels: np.ndarray, layers=(0, 2), batch: int = 256):
    """-> z (N, D), CLS embedding (N, E), mean last-layer patch token (N, E), and the patch tokens
    (N, L*E) after each block in ``layers`` (0 = the patch embedding + positions) and after the last
    block (pre-LN), as {layer: array}."""
    model.eval()
    enc = model.encoder
    depth = len(enc.encoder.layer)
    keep = sorted(set(layers) | {depth})
    zs, cls, pmean, tok = [], [], [], {k: [] for k in keep}
    for lo in range(0, len(pixels), batch):
        x = model.normalize_pixels(torch.from_numpy(pixels[lo:lo + batch]).permute(0, 3, 1, 2))
        h_all = enc.embeddings(x)  # (b, L+1, E)
        for k in range(depth + 1):
            if k in tok:
                tok[k].append(h_all[:, 1:].flatten(1).half())
            if k < depth:
                h_all = enc.encoder.layer[k](h_all)
        h = enc.layernorm(h_all[:, 0])  # == model.encoder(x)
        zs.append(model.projector(h))
        cls.append(h)
        pmean.append(h_all[:, 1:].mean(1))
    return (torch.cat(zs).numpy(), torch.cat(cls).numpy(), torch.cat(pmean).numpy(),
            {k: torch.cat(v).float().numpy() for k, v in tok.items()})


def block_moments(pixels: np.ndarray) -> np.ndarray:
    """Hand-made control: centroid and normalised 2nd/3rd central moments of the block-coloured pixels."""
    px = pixels.astype(np.int16)
    col = np.array([pt.BLOCK_FILL, pt.BLOCK_RGB], np.int16)  # (2, 3)
    d = np.abs(px[:, :, :, None, :] - col[None, None, None]).max(-1).min(-1)  # (N, S, S)
    m = (d <= 12).astype(np.float64)
    S = pixels.shape[1]
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float64) / S
    n = m.sum((1, 2)) + 1e-9
    cx, cy = (m * xx).sum((1, 2)) / n, (m * yy).sum((1, 2)) / n
    X, Y = xx[None] - cx[:, None, None], yy[None] - cy[:, None, None]
    feats = [cx, cy, n / (S * S)]
    for i, j in ((2, 0), (1, 1), (0, 2), (3, 0), (2, 1), (1, 2), (0, 3)):
        feats.append((m * X**i * Y**j).sum((1, 2)) / n)
    return np.stack(feats, 1)


def fit_probe(x_tr, y_tr, x_te, y_te, kind: str, seed: int = 0) -> np.ndarray:
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.linear_model import RidgeCV
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    if kind == "linear":
        reg = RidgeCV(alphas=np.logspace(-4, 4, 9))
    else:
        reg = MLPRegressor(hidden_layer_sizes=(128, 128), max_iter=300, early_stopping=True, n_iter_no_change=15,
                           learning_rate_init=1e-3, random_state=seed)
    m = TransformedTargetRegressor(make_pipeline(StandardScaler(), reg), transformer=StandardScaler())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit(x_tr, y_tr)
    p = np.asarray(m.predict(x_te)).reshape(len(x_te), -1)
    a, b = p - p.mean(0), y_te - y_te.mean(0)
    return (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0) + 1e-300)  # Pearson r per column


SENS_COGS = ((370.0, 150.0), (150.0, 130.0), (380.0, 380.0))


@torch.no_grad()
def sensitivity(model, image_size: int, ref_z: np.ndarray, ref_h: np.ndarray, agent=(40.0, 470.0),
                rot_deltas=(5, 10, 20, 45, 90, 180), shifts=(10, 20), seed: int = 0) -> dict:
    """How far z and the CLS embedding move for a rotation vs a translation of the block (rotation
    sweeps at SENS_COGS, 5-deg steps, agent parked): mean L2 change, also divided by the median
    distance between two random data frames (``ref_z``/``ref_h``)."""
    env = make("pusht", image_size=image_size)
    angles = np.arange(0, 360, 5)

    def enc(frames):
        x = model.normalize_pixels(torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2))
        h = model.encoder(x)
        return model.projector(h).numpy(), h.numpy()

    def render(c, ang):
        bx, by = pose_from_cog(c, ang)
        return env.render_state([agent[0], agent[1], bx, by, ang, 0.0, 0.0])

    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, len(ref_z), (2, 4000))
    med = {"z": float(np.median(np.linalg.norm(ref_z[i] - ref_z[j], axis=1))),
           "cls": float(np.median(np.linalg.norm(ref_h[i] - ref_h[j], axis=1)))}
    d = {f"rot {k} deg": {"z": [], "cls": []} for k in rot_deltas}
    d.update({f"move {k} units": {"z": [], "cls": []} for k in shifts})
    for c in SENS_COGS:
        z0, h0 = enc([render(c, a * DEG) for a in angles])  # (72, D), (72, E)
        for k in rot_deltas:
            sh = k // 5
            d[f"rot {k} deg"]["z"] += list(np.linalg.norm(z0 - np.roll(z0, -sh, 0), axis=1))
            d[f"rot {k} deg"]["cls"] += list(np.linalg.norm(h0 - np.roll(h0, -sh, 0), axis=1))
        for k in shifts:
            for dx, dy in ((k, 0), (0, k)):
                z1, h1 = enc([render((c[0] + dx, c[1] + dy), a * DEG) for a in angles])
                d[f"move {k} units"]["z"] += list(np.linalg.norm(z1 - z0, axis=1))
                d[f"move {k} units"]["cls"] += list(np.linalg.norm(h1 - h0, axis=1))
    out = {"cogs": [list(c) for c in SENS_COGS], "median_pair_distance": med, "change": {}}
    for k, v in d.items():
        out["change"][k] = {f: {"mean": float(np.mean(v[f])), "rel": float(np.mean(v[f]) / med[f])} for f in ("z", "cls")}
    return out


def probes(data: str, ckpt: str, n_eps: int, stride: int, seed: int, pca_dim: int = 64, mlp: bool = True) -> dict:
    from sklearn.decomposition import PCA
    from sklearn.model_selection import GroupShuffleSplit

    from lewm.checkpoint import load
    t = Timer()
    pixels, st, groups = load_probe_frames(data, n_eps, stride, seed)
    model, cfg, _ = load(ckpt, device="cpu")
    z, cls, pmean, toks = encode_all(model, pixels)
    depth = max(toks)
    tr, te = next(GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=seed).split(st, groups=groups))
    if len(tr) <= pca_dim:  # was: scikit-learn's PCA error after the encoding
        raise ValueError(f"--probe-episodes {n_eps} / --probe-stride {stride}: {len(tr)} training frames from "
                         f"{len(np.unique(groups))} episodes of {data}; the PCA-{pca_dim} features need more than "
                         f"{pca_dim}: raise --probe-episodes or lower --probe-stride")
    ang = st[:, 4]
    cog = np.array([pt.block_cog(*s[2:5]) for s in st])
    targets = {"angle cos/sin": np.stack([np.cos(ang), np.sin(ang)], 1),
               "2*angle cos/sin": np.stack([np.cos(2 * ang), np.sin(2 * ang)], 1),
               "block cog x/y": cog, "block origin x/y": st[:, 2:4], "agent x/y": st[:, 0:2]}
    tok_feats, tok_var = {}, {}
    for k in sorted(toks):
        pc = PCA(pca_dim, svd_solver="randomized", random_state=0).fit(toks[k][tr])
        name = "embedding" if k == 0 else ("last" if k == depth else f"after block {k}")
        tok_feats[f"patch tokens {name}, PCA-{pca_dim}"] = pc.transform(toks[k])
        tok_var[k] = float(pc.explained_variance_ratio_.sum())
        toks[k] = None
    flat = pixels.reshape(len(pixels), -1).astype(np.float32) / 255.0
    pc_px = PCA(pca_dim, svd_solver="randomized", random_state=0).fit(flat[tr])
    feats = {f"z (projector out, D={z.shape[1]})": z,
             f"encoder CLS (E={cls.shape[1]})": cls,
             f"patch tokens, mean (E={pmean.shape[1]})": pmean,
             **tok_feats,
             f"pixels, PCA-{pca_dim}": pc_px.transform(flat),
             "block-mask moments (10)": block_moments(pixels)}
    del toks, flat
    sens = sensitivity(model, cfg.model.image_size, z, cls)
    t_enc = t.done()
    res = {"frames": int(len(st)), "episodes": int(len(np.unique(groups))), "stride": stride,
           "test_frames": int(len(te)), "test_episodes": int(len(np.unique(groups[te]))),
           "pixel_pca_var": float(pc_px.explained_variance_ratio_.sum()),
           "token_pca_var": tok_var, "encode": t_enc,
           "sensitivity": sens, "r": {}}
    for fname, x in feats.items():
        res["r"][fname] = {}
        for kind in ("linear", "mlp") if mlp else ("linear",):
            res["r"][fname][kind] = {}
            for tname, y in targets.items():
                if kind == "mlp" and tname not in ("angle cos/sin", "2*angle cos/sin", "block cog x/y"):
                    continue  # MLP only where it matters (CPU budget)
                r = fit_probe(x[tr], y[tr], x[te], y[te], kind, seed)
                res["r"][fname][kind][tname] = [float(v) for v in r]
    return res


# ---------------------------------------------------------------------------------------------
EVAL_JSON = "checkpoints/pusht/eval.json"
"""The default ``--eval-json``: used when present (the split by rotation is skipped without it)."""


def parse_args(argv=None) -> argparse.Namespace:
    from lewm.cli import Parser
    from lewm.envs.base import MAX_IMAGE_SIZE
    from lewm.validate import arg_int
    seed = arg_int(0, 2**31 - 1)
    p = Parser(prog="python scripts/pusht_angle_stats.py", description=__doc__.split("\n")[0])
    p.add_argument("--data", default="/work/data/pusht.h5")
    p.add_argument("--checkpoint", default="checkpoints/pusht/model.pt")
    p.add_argument("--eval-json", default=EVAL_JSON,
                   help="the shipped agent's eval (per-episode successes) to split by the rotation a pair needs")
    p.add_argument("--parts", nargs="+", default=["pixels", "data", "probes"], choices=["pixels", "data", "probes"])
    p.add_argument("--sizes", nargs="+", type=arg_int(8, MAX_IMAGE_SIZE), default=[64, 96, 128],
                   help="image sizes of the pixel part (the first also counts 8-px patches)")
    p.add_argument("--random-episodes", type=arg_int(1, 100_000), default=100)
    p.add_argument("--random-seed", type=seed, default=0)
    p.add_argument("--eval-episodes", type=arg_int(1, 100_000), default=50)
    p.add_argument("--eval-seeds", nargs="+", type=seed, default=[0, 1])
    p.add_argument("--probe-episodes", type=arg_int(2, 1_000_000), default=400)
    p.add_argument("--probe-stride", type=arg_int(1, 100_000), default=10)
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--no-mlp", action="store_true")
    p.add_argument("--json", default=None, metavar="OUT", help="also write every figure to this JSON file")
    return p.parse_args(argv)


def check_inputs(a: argparse.Namespace) -> None:
    """Every file the asked parts read or write, before the first part runs (was: a traceback, an IndexError
    for a Two-Room file, or a missing checkpoint found after the pixel and data parts)."""
    from lewm.env_names import env_key
    from lewm.validate import check_dataset, check_out_file
    if a.json:
        from lewm.runs import JSON_FILE
        check_out_file(a.json, "--json", make_parent=True, writes=JSON_FILE)
    image_size = None
    if "probes" in a.parts:
        from lewm.checkpoint import load
        from lewm.runs import DATASET, file_kind
        if os.path.isfile(a.checkpoint) and file_kind(a.checkpoint) == DATASET:
            raise ValueError(f"--checkpoint {a.checkpoint}: is an HDF5 episode file; expected a PushT checkpoint")
        _, cfg, _ = load(a.checkpoint, device="cpu")
        if env_key(cfg.env or "") != "pusht":
            raise ValueError(f"--checkpoint {a.checkpoint}: is a checkpoint of {cfg.env!r}; the probes read the "
                             f"PushT block's angle (give a PushT checkpoint)")
        image_size = cfg.model.image_size
    if "data" in a.parts or "probes" in a.parts:
        # the PushT state (7 numbers: the block angle is column 4), finite, at the checkpoint's image size
        check_dataset(a.data, env="pusht", image_size=image_size, need_state=True,
                      state_dim=make("pusht", image_size=16).state_dim,
                      who=f"checkpoint {a.checkpoint}" if image_size else "this script (PushT)")
    if "data" in a.parts and a.eval_json and (os.path.exists(a.eval_json) or a.eval_json != EVAL_JSON):
        read_eval_json(a.eval_json)  # a --eval-json given must exist (the default is used when present)


def main(argv=None) -> int:
    a = parse_args(argv)
    check_inputs(a)
    out: dict = {"args": vars(a)}

    if "pixels" in a.parts:
        t = Timer()
        px = pixel_signal(a.sizes)
        px["time"] = t.done()
        out["pixels"] = px
        print(f"\n== 1. pixel signal (block cog {px['cog']}, agent parked at {px['agent']}; mean over the 72 sweep "
              f"angles; 'changed' = some channel moves > {THRESH}/255)  [{px['time']['cpu_s']} CPU s]")
        print(f"{'change':<15}" + "".join(f"| {s:>3} px: mean|d| #px changed (min) " for s in a.sizes)
              + f"| {a.sizes[0]} px: {px['patch']}-px patches changed (min) of {px['num_patches']}")
        for k in px["sizes"][str(a.sizes[0])]["diffs"]:
            line = f"{k:<15}"
            for s in a.sizes:
                d = px["sizes"][str(s)]["diffs"][k]
                line += f"| {d['mean_abs_diff']:>13.2f} {d['pixels_changed']:>7.1f} ({d['pixels_changed_min']:>4.0f})      "
            d = px["sizes"][str(a.sizes[0])]["diffs"][k]
            pk = "patches%d_changed" % px["patch"]
            line += f"| {d[pk]:>5.1f} ({d[pk + '_min']:.0f})"
            print(line)
        print("block area (px changed vs no block): " + ", ".join(
            f"{s} px: {px['sizes'][str(s)]['block_pixels']:.0f}" for s in a.sizes))

    if "data" in a.parts:
        import h5py
        t = Timer()
        with h5py.File(a.data, "r") as f:
            ex = rotation_stats(f["state"][:], f["ep_len"][:], f["ep_offset"][:])
        t_ex = t.done()
        t = Timer()
        rnd = rotation_stats(*random_episodes(a.random_episodes, a.random_seed))
        t_rnd = t.done()
        t = Timer()
        ev = eval_pair_stats(a.eval_seeds, a.eval_episodes, a.eval_json)
        t_ev = t.done()
        out["data"] = {"expert": ex, "random": rnd, "eval_pairs": ev,
                       "time": {"expert": t_ex, "random": t_rnd, "eval_pairs": t_ev}}
        print(f"\n== 2. rotation in the data (degrees)  [expert {t_ex['cpu_s']} s, random {t_rnd['cpu_s']} s CPU]")
        print(f"{'':<44}| {'expert (' + str(ex['episodes']) + ' eps)':>22} | {'random (' + str(rnd['episodes']) + ' eps)':>22}")

        def row(name, fn):
            print(f"{name:<44}| {fn(ex):>22} | {fn(rnd):>22}")
        fq = lambda k: (lambda d: "{p50:.2f} / {p90:.2f} / {p99:.2f}".format(**d[k]))  # noqa: E731
        row("per-step |dangle| p50 / p90 / p99", fq("step_abs_dangle_deg"))
        row("  same, steps where the block moves", fq("step_abs_dangle_deg_moving"))
        row("frac steps block moves at all", lambda d: f"{d['frac_steps_block_moves_any']:.3f}")
        row("frac steps block moves > 1 unit or > 1 deg", lambda d: f"{d['frac_steps_block_moves_1u_or_1deg']:.3f}")
        row("frac steps |dangle| > 1 deg / > 5 deg",
            lambda d: f"{d['frac_steps_rot_gt_1deg']:.3f} / {d['frac_steps_rot_gt_5deg']:.3f}")
        row("episode total |dangle| p50 / p90 / p99", fq("episode_total_abs_dangle_deg"))
        row("episode net |dangle| p50 / p90 / p99", fq("episode_net_abs_dangle_deg"))
        row("frac episodes total > 20 / > 90",
            lambda d: f"{d['frac_episodes_total_gt_20']:.3f} / {d['frac_episodes_total_gt_90']:.3f}")
        row("frac episodes net > 20 / > 90",
            lambda d: f"{d['frac_episodes_net_gt_20']:.3f} / {d['frac_episodes_net_gt_90']:.3f}")
        row("episode cog path (units) p50 / p90 / p99", fq("episode_cog_path_units"))
        row("angle: 10-deg bin share min / max",
            lambda d: "{:.4f} / {:.4f}".format(*d["angle_hist_10deg_bins_share_min_max"]))
        print(f"\neval pairs (goal = start + 25 expert steps)  [{t_ev['cpu_s']} CPU s]")
        for sd, r in ev.items():
            print(f"  seed {sd}: {r['pairs']} pairs; rotation needed p50/p90 {r['rot_needed_deg']['p50']:.1f} / "
                  f"{r['rot_needed_deg']['p90']:.1f} deg; needs > 20 deg: {r['frac_rot_gt_20']:.2f}; "
                  f"start already succeeds: {r['frac_start_success']:.2f} (position < 20: {r['frac_start_pos_lt_20']:.2f})")
            if "agent" in r:
                g = r["agent"]
                print(f"    shipped agent ({g['eval_json']}): success {g['success_rate']:.2f}; rotation > 20: "
                      f"{g['success_rot_gt_20'][0]}/{g['success_rot_gt_20'][1]}, <= 20: "
                      f"{g['success_rot_le_20'][0]}/{g['success_rot_le_20'][1]} ({g['successes_already_at_start']} successes at "
                      f"step 0; <= 20 excluding those: {g['success_rot_le_20_not_at_start'][0]}/"
                      f"{g['success_rot_le_20_not_at_start'][1]}); failures ending with position < 20: "
                      f"{g['failures_final_pos_lt_20'][0]}/{g['failures_final_pos_lt_20'][1]} (final distance "
                      f"p10/p50/p90 {g['failures_final_distance']['p10']:.1f} / {g['failures_final_distance']['p50']:.1f}"
                      f" / {g['failures_final_distance']['p90']:.1f})")

    if "probes" in a.parts:
        t = Timer()
        pr = probes(a.data, a.checkpoint, a.probe_episodes, a.probe_stride, a.seed, mlp=not a.no_mlp)
        pr["time"] = t.done()
        out["probes"] = pr
        print(f"\n== 3. probes: held-out Pearson r (cos, sin), split by episode: {pr['frames']} frames of "
              f"{pr['episodes']} episodes (every {pr['stride']}th frame), test {pr['test_frames']} frames of "
              f"{pr['test_episodes']} episodes; pixel PCA keeps {pr['pixel_pca_var']:.3f} of the variance  "
              f"[{pr['time']['cpu_s']} CPU s]")
        tn = ["angle cos/sin", "2*angle cos/sin", "block cog x/y", "block origin x/y", "agent x/y"]
        print(f"{'features':<36}{'probe':<8}" + "".join(f"| {n:<17}" for n in tn))
        for fname, byk in pr["r"].items():
            for kind, rs in byk.items():
                print(f"{fname:<36}{kind:<8}" + "".join(
                    f"| {rs[n][0]:>7.3f} {rs[n][1]:>7.3f}  " if n in rs else f"| {'':<17}" for n in tn))
        se = pr["sensitivity"]
        print(f"\nencoder sensitivity on rotation sweeps (block cog at {se['cogs']}, agent parked): mean L2 change, "
              f"and / median distance of two random data frames (z {se['median_pair_distance']['z']:.3f}, "
              f"CLS {se['median_pair_distance']['cls']:.3f})")
        print(f"{'change':<15}| {'z':>8} {'z rel':>7} | {'CLS':>8} {'CLS rel':>7}")
        for k, v in se["change"].items():
            print(f"{k:<15}| {v['z']['mean']:>8.3f} {v['z']['rel']:>7.3f} | {v['cls']['mean']:>8.3f} {v['cls']['rel']:>7.3f}")
    if a.json:
        from lewm.faults import write_atomic
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        write_atomic(a.json, json.dumps(out, indent=1))  # a kill or a full disk leaves no half file
        print(f"\nwrote {a.json}")
    return 0


if __name__ == "__main__":
    from lewm.cli import run_script  # expected failures: one line, exit 2
    sys.exit(run_script(main))
