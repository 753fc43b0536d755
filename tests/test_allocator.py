"""lewm/allocator.py: glibc's mallopt set on Linux, nothing elsewhere; a process that sets it still works."""
import subprocess
import sys

from lewm.allocator import keep_freed_memory


def test_keep_freed_memory_in_a_fresh_process():
    code = ("import sys; from lewm.allocator import keep_freed_memory; ok = keep_freed_memory(); import torch; "
            "x = torch.ones(40_000_000); del x; y = torch.zeros(40_000_000); print(ok, float(y.sum()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    ok, total = out.stdout.split()
    assert total == "0.0"  # memory reused from the heap holds no stale values for a zeros() tensor
    if sys.platform.startswith("linux"):
        import ctypes.util
        assert ok == str(bool(ctypes.util.find_library("c")))


def test_elsewhere_it_does_nothing(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert keep_freed_memory() is False
