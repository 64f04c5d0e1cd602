"""Claims on object storage: the holder record beats while held, and a dead holder's record is taken over (a process
that no longer runs on this host, or a record whose beats stopped), while a live one is refused."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest

from mmprolong import storage
from mmprolong.errors import OutputError
from mmprolong.run import outdir
from mmprolong.run.outdir import HOLDER, claim


def _url(scheme: str = "memory://locks") -> str:
    return f"{scheme}/{uuid.uuid4().hex}"


def _record(url: str, **fields) -> None:
    storage.makedirs(url)
    storage.write_text(f"{url}/{HOLDER}", json.dumps({"command": "mmprolong ingest", "since": "earlier", **fields}))


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_the_record_beats_while_held_and_is_removed_after(monkeypatch):
    monkeypatch.setattr(outdir, "LOCK_BEAT_S", 0.05)
    url = _url()
    with claim(url, "page-store", "ingest"):
        first = json.loads(storage.read_text(f"{url}/{HOLDER}"))
        deadline = time.monotonic() + 30
        while json.loads(storage.read_text(f"{url}/{HOLDER}"))["beat"] == first["beat"]:
            assert time.monotonic() < deadline, "no beat"
            time.sleep(0.02)
        later = json.loads(storage.read_text(f"{url}/{HOLDER}"))
        assert later["token"] == first["token"] and later["beat"] > first["beat"]
    assert not storage.exists(f"{url}/{HOLDER}")


def test_a_dead_process_on_this_host_is_taken_over(caplog):
    url = _url()
    pid = _dead_pid()
    here = dict(host=socket.gethostname(), pid_space=outdir._process_space())
    assert here["pid_space"]     # Linux: boot id and pid namespace
    _record(url, pid=pid, **here, beat=time.time())
    with caplog.at_level("WARNING", logger="mmprolong.run.outdir"), claim(url, "page-store", "ingest"):
        assert json.loads(storage.read_text(f"{url}/{HOLDER}"))["pid"] == os.getpid()
    assert f"its process {pid} no longer runs on this host" in caplog.text
    # the same host name in another pid namespace (a container with host networking): its pid means nothing here
    _record(url, pid=pid, host=here["host"], pid_space="other-boot pid:[1]", beat=time.time())
    with pytest.raises(OutputError, match="in use"):
        with claim(url, "page-store", "ingest"):
            pass


def test_live_records_are_refused_and_stale_ones_taken_over(caplog):
    elsewhere = dict(pid=4242, host="node-17.cluster")
    url = _url()
    _record(url, **elsewhere, beat=time.time() - 30)                          # beating: alive
    with pytest.raises(OutputError, match="in use by pid 4242 on host node-17.cluster"):
        with claim(url, "page-store", "ingest"):
            pass
    _record(url, pid=os.getpid(), host=socket.gethostname(), pid_space=outdir._process_space(),
            beat=time.time() - 30)                                            # this very process
    with pytest.raises(OutputError, match="in use"):
        with claim(url, "page-store", "ingest"):
            pass
    _record(url, **elsewhere)                                                 # no beats (by hand): never taken
    with pytest.raises(OutputError, match="in use"):
        with claim(url, "page-store", "ingest"):
            pass
    _record(url, **elsewhere, beat=time.time() - outdir.LOCK_STALE_S - 60)   # beats stopped: a lost node
    with caplog.at_level("WARNING", logger="mmprolong.run.outdir"), claim(url, "page-store", "ingest"):
        pass
    assert "its last beat was" in caplog.text and not storage.exists(f"{url}/{HOLDER}")


def test_the_claim_of_a_killed_process_on_s3_is_recovered_without_a_manual_step(s3_env):
    url = _url("s3://mmprolong-test/locks")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom mmprolong.run.outdir import claim\n"
         "with claim(sys.argv[1], 'page-store', 'ingest'):\n    print('held', flush=True)\n    time.sleep(600)\n", url],
        stdout=subprocess.PIPE, text=True, env={**os.environ, **s3_env})
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputError, match=f"in use by pid {holder.pid}"):   # alive: refused
            with claim(url, "page-store", "ingest"):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert storage.exists(f"{url}/{HOLDER}")                                   # kill -9 left its record
    with claim(url, "page-store", "ingest"):                                   # ... and it is taken over
        assert json.loads(storage.read_text(f"{url}/{HOLDER}"))["pid"] == os.getpid()
    assert not storage.exists(f"{url}/{HOLDER}")
