"""Kill the writer at random moments: the sidecar is always the old or the new
version, never torn or missing, and no temp file is left for host apps."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

from programs import start
from xmp_helpers import darktable_sidecar, make_rating

from xmp_writer import merge

KILLS = 12  # a fixed number of kills at random moments, however slow the machine
# The child writes alternately two results forever; ranks differ so every
# write really changes the file.
CHILD = """
import sys
sys.path[:0] = [{tests!r}, {tests!r} + "/.."]
from xmp_helpers import make_rating
import xmp_writer
print("ready", flush=True)
i = 0
while True:
    xmp_writer.write_rating({image!r}, make_rating(rank=1 + i % 2))
    i += 1
"""


def _reachable_states(start: bytes) -> set[bytes]:
    """Every content the alternating writer can leave behind."""
    states, todo = {start}, [start]
    while todo:
        data = todo.pop()
        for rank in (1, 2):
            new, _ = merge.apply(data, [make_rating(rank=rank)], overwrite_ratings=False)
            if new not in states:
                states.add(new)
                todo.append(new)
    return states


def test_killed_writer_never_leaves_a_torn_sidecar(tmp_path):
    image = tmp_path / "IMG_0001.jpg"
    sidecar = tmp_path / "IMG_0001.jpg.xmp"
    base = darktable_sidecar(history=3000, rating=None)  # a write takes some ms
    sidecar.write_bytes(base)
    valid = _reachable_states(base)
    assert 2 <= len(valid) <= 6

    code = CHILD.format(tests=os.path.dirname(__file__), image=str(image))
    rng = random.Random(1234)
    for kills in range(1, KILLS + 1):
        child = start([sys.executable, "-c", code], stdout=subprocess.PIPE)
        assert child.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0, 0.08))
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        assert sidecar.read_bytes() in valid, f"torn sidecar after kill {kills}"

    # a killed writer may leave its hidden temp file; the next write removes it
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".xmp") and n != sidecar.name]
    from xmp_writer import write_rating
    write_rating(image, make_rating(rank=3))
    assert sorted(os.listdir(tmp_path)) == ["IMG_0001.jpg.xmp"]
