"""The Redis replay store against a real redis-server (started here on a free loopback port):
two processes deciding the same proofs at once get exactly one allow per proof, a proof used in
one process is a replay in the other, and a Redis that is down is a deny, never an allow."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

import mandate_pdp as m
from world import NOW, make_world

WORKER = r"""
import json, sys, time
import mandate_pdp as m
config, inputs, url, start = json.load(open(sys.argv[1]))
pdp = m.Pdp(config, replay_store=m.RedisReplayStore(url))
while time.time() < start:
    time.sleep(0.001)
print(json.dumps([[d["decision"], *m.reasons(d)] for d in map(pdp.decide, inputs)]))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path_factory.mktemp("redis"))],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        server.kill()
        raise RuntimeError("redis-server did not start")
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(5)


def test_two_processes_get_exactly_one_allow_per_proof(redis_url, tmp_path):
    world = make_world()
    inputs = [world.input() for _ in range(50)]
    job = tmp_path / "job.json"
    job.write_text(json.dumps([world.config, inputs, redis_url, time.time() + 1.5]))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(job)], stdout=subprocess.PIPE, env=env) for _ in range(2)]
    outs = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    for a, b in zip(*outs):
        assert sorted([a, b]) == [["allow"], ["deny", "replay.detected"]], (a, b)


def test_a_proof_used_in_one_process_is_a_replay_in_another(redis_url):
    world = make_world()
    inp = world.input()
    first = m.Pdp(world.config, replay_store=m.RedisReplayStore(redis_url))
    assert [first.decide(inp)["decision"]] == ["allow"]
    other = m.Pdp(world.config, replay_store=m.RedisReplayStore(redis_url))
    d = other.decide(inp)
    assert [d["decision"], *m.reasons(d)] == ["deny", "replay.detected"]
    assert other.ping() is None


def test_a_redis_that_is_down_denies():
    world = make_world()
    pdp = m.Pdp(world.config, replay_store=m.RedisReplayStore(f"redis://127.0.0.1:{free_port()}/0", timeout_ms=300))
    d = pdp.decide(world.input())
    assert [d["decision"], *m.reasons(d)] == ["deny", "replay.store_unavailable"]
    assert pdp.ping()[0] == "replay.store_unavailable"
    with pytest.raises(m.MandateError) as e:
        m.RedisReplayStore("not a url")
    assert e.value.code == "replay.store_unavailable"
