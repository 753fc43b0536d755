"""lewm.env_names: the field's spellings of an environment map to one canonical name, everywhere a
name is taken (make, collect --env, eval --env, data files, checkpoint configs)."""
import h5py
import pytest

from lewm.config import LeWMConfig
from lewm.env_names import CANONICAL_ENVS, env_key


@pytest.mark.parametrize("spelling,key", [
    ("two_room", "two_room"), ("tworoom", "two_room"), ("TwoRoom", "two_room"), ("two-room", "two_room"),
    ("Two Room", "two_room"), ("swm/TwoRoom-v1", "two_room"), (" TWO_ROOM ", "two_room"),
    ("pusht", "pusht"), ("PushT", "pusht"), ("push-t", "pusht"), ("push_t", "pusht"), ("swm/PushT-v1", "pusht"),
    ("reacher", "reacher"), ("Reacher", "reacher"), ("dmc-reacher", "reacher"),
    ("reacher_no_target", "reacher_no_target"), ("ReacherNoTarget", "reacher_no_target"),
    ("gym-pusht", "gym_pusht"), ("gym_pusht/PushT-v0", "gym_pusht"),
    ("synthetic_dot", "synthetic_dot"), ("Cube-Single", "cube_single"),  # unknown: normalised, kept
])
def test_spellings_map_to_canonical_names(spelling, key):
    assert env_key(spelling) == key


def test_every_canonical_name_is_its_own_key_and_envs_agree():
    from lewm.envs import OPTIONAL_ENVS, list_envs
    assert all(env_key(n) == n for n in CANONICAL_ENVS)
    assert set(list_envs()) | set(OPTIONAL_ENVS) == set(CANONICAL_ENVS)


def test_make_config_and_data_files_take_any_spelling(tmp_path, syn_h5):
    import shutil

    from lewm.data import validate_file
    from lewm.envs import make
    from lewm.validate import check_dataset
    assert make("TwoRoom", image_size=16).name == "two_room" and make("PushT", image_size=16).name == "pusht"
    with pytest.raises(ValueError, match="unknown environment 'Nope'"):
        make("Nope")
    assert LeWMConfig(env="Two-Room").env == "two_room"
    assert LeWMConfig.from_dict({"env": "PushT"}).env == "pusht"
    f = str(tmp_path / "other_tool.h5")  # a file of another tool that writes 'TwoRoom'
    shutil.copy(syn_h5, f)
    with h5py.File(f, "a") as h:
        h.attrs["env"] = "TwoRoom"
    assert validate_file(f)["env"] == "two_room"
    check_dataset(f, env="tworoom")  # same environment: no error
    with pytest.raises(ValueError, match="'two_room' episodes .* is for 'PushT'"):
        check_dataset(f, env="PushT")


def test_collect_cli_takes_the_fields_spelling(tmp_path):
    from lewm.cli import main
    out = str(tmp_path / "tr.h5")
    assert main(["collect", "--env", "TwoRoom", "--episodes", "1", "--episode-len", "6", "--image-size", "16",
                 "--out", out, "--no-progress"]) == 0
    with h5py.File(out) as h:
        assert h.attrs["env"] == "two_room"


@pytest.mark.parametrize("bad,exc,match", [
    (None, TypeError, r"an environment name must be a string .* got None \(NoneType\)"),
    (5, TypeError, r"an environment name must be a string .* got 5 \(int\)"),
    (b"two_room", TypeError, r"got b'two_room' \(bytes\) \(decode it first"),
    ("///", ValueError, r"environment name '///' has no letter or digit"),
    ("swm/-v1", ValueError, r"environment name 'swm/-v1' has no letter or digit"),
    ("", ValueError, r"environment name '' has no letter or digit"),
])
def test_non_names_are_refused(bad, exc, match):
    with pytest.raises(exc, match=match):
        env_key(bad)
    assert env_key("Two-Room") == "two_room"
