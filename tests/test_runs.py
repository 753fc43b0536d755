"""lewm.runs: fresh run folders and files (never reused), a run's metrics file read back."""
import json
import os

import numpy as np

from lewm.runs import read_metrics, slugify, unique_dir, unique_file


def test_unique_dir_and_file_never_reuse(tmp_path):
    a = unique_dir(str(tmp_path), "run one")
    b = unique_dir(str(tmp_path), "run one")
    assert a != b and os.path.isdir(a) and os.path.isdir(b) and os.path.basename(a) == "run-one"
    f = tmp_path / "d.h5"
    f.write_bytes(b"x")
    assert unique_file(str(f)) == str(tmp_path / "d-1.h5")
    (tmp_path / "d-1.h5.4242.tmp").write_bytes(b"")  # a collect into d-1.h5 is under way
    assert unique_file(str(f)) == str(tmp_path / "d-2.h5")
    assert slugify("../My run: λ=0!") == "My-run-0" and slugify("///") == "run"


def test_read_metrics_columns_skip_a_torn_line_and_downsample(tmp_path):
    with open(tmp_path / "metrics.jsonl", "w") as f:
        for i in range(1, 101):
            f.write(json.dumps({"step": i, "loss": 1.0 / i, "note": "x"}) + "\n")
        f.write('{"step": 101, "lo')  # being written
    m = read_metrics(str(tmp_path))
    assert sorted(m) == ["loss", "step"]
    np.testing.assert_array_equal(m["step"], np.arange(1, 101))
    assert m["loss"][3] == 0.25
    small = read_metrics(str(tmp_path), max_points=20)
    assert len(small["step"]) <= 20 and small["step"][0] == 1 and small["step"][-1] == 100
    assert read_metrics(str(tmp_path / "nope")) == {}
