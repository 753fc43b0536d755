"""lewm.official_names: the release's parameter names onto the lab's."""
import pytest

from lewm import official_names as names


def test_key_map_helpers_refuse_non_names():
    with pytest.raises(TypeError, match=r"map_key: name must be an official parameter name \(str\), got None"):
        names.map_key(None)
    with pytest.raises(TypeError, match=r"map_state_dict: sd must be a dict .* got list"):
        names.map_state_dict([1])
    with pytest.raises(TypeError, match=r"map_state_dict: sd must map parameter names \(str\) to tensors"):
        names.map_state_dict({"encoder.layernorm.weight": [1.0]})
    assert names.map_key("encoder.layernorm.weight") == "encoder.layernorm.weight"


def test_both_transformers_generations_map_onto_one_name_and_extras_are_sorted():
    """4.x and 5.x encoder names give the same lab name; the pooler is ignored; a projection the lab cannot hold is
    unmapped; the same weight under both generations' names is one error, not a silent overwrite."""
    import torch
    from lewm.errors import CheckpointError
    assert names.map_key("encoder.encoder.layer.3.attention.attention.query.weight") == \
        names.map_key("encoder.layers.3.attention.q_proj.weight") == "encoder.encoder.layer.3.attention.attention.query.weight"
    assert names.map_key("encoder.layers.0.mlp.fc2.bias") == "encoder.encoder.layer.0.output.dense.bias"
    assert names.map_key("predictor.transformer.input_proj.weight") is None
    t = torch.zeros(1)
    mapped, unmapped, ignored = names.map_state_dict({"encoder.pooler.dense.weight": t, "encoder.layernorm.bias": t,
                                                      "predictor.transformer.cond_proj.weight": t})
    assert list(mapped) == ["encoder.layernorm.bias"] and unmapped == ["predictor.transformer.cond_proj.weight"]
    assert ignored == ["encoder.pooler.dense.weight"]
    assert names.all_official(["encoder.pooler.dense.weight", "encoder.layernorm.bias"])
    assert not names.all_official(["predictor.input_proj.weight"])
    with pytest.raises(CheckpointError, match="map twice"):
        names.map_state_dict({"encoder.encoder.layer.0.attention.attention.query.weight": t,
                              "encoder.layers.0.attention.q_proj.weight": t})
