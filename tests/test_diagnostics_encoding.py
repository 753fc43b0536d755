"""lewm.diagnostics.encoding: dataset encoding (latents, embeddings, frame bookkeeping) against direct encoding."""
import numpy as np
import pytest
import torch

from lewm import diagnostics as dg
from lewm.config import get_preset
from lewm.model import LeWM


def test_encode_dataset_matches_direct_encoding(syn_h5):
    import h5py
    torch.manual_seed(0)
    model = LeWM(get_preset("cpu-tiny").model).eval()
    enc = dg.encode_dataset(model, syn_h5, max_frames=100, batch=32, keep_pixels=True, seed=0)
    assert enc.latents.shape == (100, 16) and enc.state.shape == (100, 2) and enc.state_names == ("x", "y")
    with h5py.File(syn_h5) as f:
        off = f["ep_offset"][:]
        px = f["pixels"][enc.frame_index[:7]]
        st = f["state"][:][enc.frame_index]
    assert np.array_equal(enc.frame_index, off[enc.episode] + enc.step)
    np.testing.assert_allclose(enc.state, st)
    assert np.array_equal(enc.pixels[:7], px)
    with torch.no_grad():
        ref = model.encode(torch.from_numpy(px).permute(0, 3, 1, 2)[None])[0].numpy()
    np.testing.assert_allclose(enc.latents[:7], ref, atol=1e-5)
    assert len(np.unique(enc.episode)) == 3  # whole 40-frame episodes, the last one cut
    # the pre-projector embeddings: one pass gives both, and the projector maps one to the other
    both = dg.encode_dataset(model, syn_h5, max_frames=100, batch=32, seed=0, with_embeddings=True)
    assert both.embeddings.shape == (100, model.cfg.enc_dim)
    np.testing.assert_allclose(both.latents, enc.latents, atol=1e-5)
    with torch.no_grad():
        via_projector = model.projector(torch.from_numpy(both.embeddings[:7])).numpy()
        emb_ref = model.encoder(model.normalize_pixels(torch.from_numpy(px).permute(0, 3, 1, 2))).numpy()
    np.testing.assert_allclose(via_projector, ref, atol=1e-5)
    np.testing.assert_allclose(dg.encode_frames(model, px, features="embedding").numpy(), emb_ref, atol=1e-5)
    with pytest.raises(ValueError, match="features"):
        dg.encode_frames(model, px, features="cls")
