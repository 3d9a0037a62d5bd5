"""The package API: load, decide with reason codes, replay, sub-delegation, audit, errors."""

import pytest

import mandate_pdp as m
from world import API, NOW, make_world


@pytest.fixture(scope="module")
def world():
    return make_world()


def codes(d):
    return [d["decision"], *m.reasons(d)]


def test_a_delegated_request_is_allowed_once_then_replay_detected(world):
    pdp = m.Pdp(world.config)
    assert pdp.status["ok"] is True
    inp = world.input()
    d = pdp.decide(inp)
    assert codes(d) == ["allow"]
    assert d["principal"]["agent"] == "agent:travel" and d["principal"]["user"] == "alice"
    assert codes(pdp.decide(inp)) == ["deny", "replay.detected"]


def test_denies_carry_their_codes(world):
    pdp = m.Pdp(world.config)
    assert codes(pdp.decide(world.input(ip="192.0.2.1"))) == ["deny", "policy.denied"]
    assert codes(pdp.decide(world.input(token=world.delegate(sub="carol")))) == ["deny", "delegation.delegator_not_allowed"]
    expired = world.delegate(iat=NOW - 7200, exp=NOW - 3600)
    assert codes(pdp.decide(world.input(token=expired))) == ["deny", "token.expired"]
    assert codes(pdp.decide(world.input(action="payments:send", token=world.delegate(scope="payments:send")))) == [
        "deny",
        "approval.required",
    ]
    tampered = world.input()
    tampered["credentials"]["proof"] = tampered["credentials"]["proof"][:-4] + "AAAA"
    assert codes(pdp.decide(tampered)) == ["deny", "proof.signature_invalid"]
    assert codes(pdp.decide(b"{not json")) == ["deny", "input.malformed"]
    assert codes(pdp.decide({"now": NOW})) == ["deny", "input.malformed"]


def test_a_bad_bundle_denies_everything_with_its_code(world):
    rogue = make_world(signer="rogue")
    pdp = m.Pdp({**world.config, "bundle": rogue.bundle})
    assert pdp.status["ok"] is False and pdp.status["error"]["code"] == "bundle.signature_invalid"
    assert codes(pdp.decide(world.input())) == ["deny", "bundle.signature_invalid"]


def test_one_store_shared_by_two_pdps_is_one_jti_space(world):
    store = m.MemoryReplayStore()
    a, b = m.Pdp(world.config, replay_store=store), m.Pdp(world.config, replay_store=store)
    inp = world.input()
    assert codes(a.decide(inp)) == ["allow"]
    assert codes(b.decide(inp)) == ["deny", "replay.detected"]
    assert store.size == 1


def test_a_store_remembering_since_refuses_older_proofs(world):
    store = m.MemoryReplayStore(remembering_since=NOW)
    assert store.remembers_since == NOW
    pdp = m.Pdp(world.config, replay_store=store)
    assert codes(pdp.decide(world.input(proof_now=NOW - 1))) == ["deny", "replay.history_unknown"]
    assert codes(pdp.decide(world.input())) == ["allow"]


def test_a_full_store_denies_rather_than_forgets(world):
    pdp = m.Pdp(world.config, replay_store=m.MemoryReplayStore(capacity=1))
    assert codes(pdp.decide(world.input())) == ["allow"]
    assert codes(pdp.decide(world.input())) == ["deny", "replay.store_unavailable"]


def test_the_file_store_keeps_used_proofs_across_a_reopen(world, tmp_path):
    journal = str(tmp_path / "replay.jsonl")
    inp = world.input()
    store = m.FileReplayStore(journal, now=NOW)
    assert codes(m.Pdp(world.config, replay_store=store).decide(inp)) == ["allow"]
    del store
    import gc

    gc.collect()
    again = m.FileReplayStore(journal, now=NOW)
    assert codes(m.Pdp(world.config, replay_store=again).decide(inp)) == ["deny", "replay.detected"]


def test_a_sub_agent_acts_within_what_it_was_given(world):
    pdp = m.Pdp(world.config)
    travel = m.Agent(world.travel, [world.delegate()])
    chain = travel.delegate("agent:helper", world.helper, "secrets:read", now=NOW)
    helper = m.Agent(world.helper, chain)
    url = f"{API}/v1/secrets/db"
    inp = {"now": NOW, "request": {"method": "GET", "uri": url, "ip": "10.20.0.7", "action": "secrets:read"},
           "credentials": helper.credentials("GET", url, now=NOW)}
    d = pdp.decide(inp)
    assert codes(d) == ["allow"] and d["principal"]["agent"] == "agent:helper"
    wider = travel.delegate("agent:helper", world.helper, "secrets:read tool:*", now=NOW)
    inp["credentials"] = m.Agent(world.helper, wider).credentials("GET", url, now=NOW)
    assert m.reasons(pdp.decide(inp))[0] in ("chain.scope_escalation", "delegation.scope_exceeds_ceiling")


def test_http_requests_go_through_the_core_binding(world):
    pdp = m.Pdp(world.config)
    agent = m.Agent(world.travel, [world.delegate()])
    url = f"{API}/v1/secrets/db"
    headers = [[k, v] for k, v in agent.headers("GET", url, now=NOW).items()]
    inp = {"now": NOW, "http": {"method": "GET", "scheme": "https", "authority": "api.example.com",
                                "path": "/v1/secrets/db", "headers": headers, "peer": "10.20.0.7"},
           "binding": m.http_binding(["GET /v1/secrets/* secrets:read"])}
    assert codes(pdp.decide_http(inp)) == ["allow"]
    assert codes(pdp.decide_http(inp)) == ["deny", "replay.detected"]
    headers = [[k, v] for k, v in agent.headers("GET", url, now=NOW).items()]
    unrouted = {**inp, "http": {**inp["http"], "path": "/v1/other", "headers": headers}}
    assert codes(pdp.decide_http(unrouted)) == ["deny", "request.unrouted"]


def test_a_proof_carries_the_servers_nonce(world):
    agent = m.Agent(world.travel, [world.delegate()])
    assert agent.remember_nonce(f"{API}/x", {"DPoP-Nonce": "n-123"}) is True
    proof = agent.proof("GET", f"{API}/v1/secrets/db", now=NOW)
    import base64, json

    payload = json.loads(base64.urlsafe_b64decode(proof.split(".")[1] + "=="))
    assert payload["nonce"] == "n-123"
    pdp = m.Pdp(world.config)
    inp = world.input()
    inp["credentials"]["proof"] = proof
    inp["credentials"]["delegation"] = agent.chain
    assert codes(pdp.decide(inp)) == ["allow"]


def test_every_decision_is_audited_before_it_is_returned(world, tmp_path):
    log = str(tmp_path / "audit.jsonl")
    pdp = m.Pdp(world.config, audit_log=log)
    pdp.decide(world.input())
    pdp.decide(world.input(ip="192.0.2.1"))
    assert pdp.audit_head[0] == 2
    records, last = m.verify_audit_log(log)
    assert records == 2 and last == pdp.audit_head[1]
    with pytest.raises(m.MandateError) as e:
        m.Pdp(world.config, audit_log=log)
    assert e.value.code == "audit.locked"
    del pdp
    lines = open(log).read().splitlines()
    lines[0] = lines[0].replace('"outcome":"allow"', '"outcome":"deny"')
    open(log, "w").write("\n".join(lines) + "\n")
    with pytest.raises(m.MandateError) as e:
        m.verify_audit_log(log)
    assert e.value.code == "audit.tampered"


def test_replace_follows_the_replacement_rule(world):
    pdp = m.Pdp(world.config)
    older = make_world(now=NOW - 7200)
    with pytest.raises(m.MandateError) as e:
        pdp.replace({**world.config, "bundle": older.bundle}, now=NOW)
    assert e.value.code == "bundle.rollback"
    assert pdp.status["bundle"]["revision"] == "test-1"


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError):
        m.Pdp({}, verifier="fast")
    with pytest.raises(TypeError):
        m.Pdp({}, replay_store=object())
    with pytest.raises(m.MandateError) as e:
        m.thumbprint({"kty": "RSA"})
    assert e.value.code == "input.malformed"
    assert "replay.detected" in m.CODES


def test_decisions_from_many_threads_at_once_are_all_decided(world):
    import threading

    pdp = m.Pdp(world.config)
    inputs = [world.input() for _ in range(40)]
    results = []
    threads = [threading.Thread(target=lambda i=i: results.append(pdp.decide(i)["decision"])) for i in inputs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("allow") == 40


def test_a_store_written_in_python_is_held_to_the_same_rules(world):
    held = set()

    def record(entries, now):
        assert now == NOW and all(e["kind"] == "proof" for e in entries)
        seen = [e["jti"] for e in entries if e["jti"] in held]
        held.update(e["jti"] for e in entries)
        return seen

    pdp = m.Pdp(world.config, replay_store=m.CallbackReplayStore(record))
    inp = world.input()
    assert codes(pdp.decide(inp)) == ["allow"]
    assert codes(pdp.decide(inp)) == ["deny", "replay.detected"]

    def broken(entries, now):
        raise OSError("database down")

    assert codes(m.Pdp(world.config, replay_store=m.CallbackReplayStore(broken)).decide(world.input())) == [
        "deny",
        "replay.store_unavailable",
    ]
    nonsense = m.CallbackReplayStore(lambda entries, now: "OK")
    assert codes(m.Pdp(world.config, replay_store=nonsense).decide(world.input())) == ["deny", "replay.store_unavailable"]
    # A store that answers ids it was not given is not trusted to have recorded ours.
    liar = m.CallbackReplayStore(lambda entries, now: ["someone-else"])
    assert codes(m.Pdp(world.config, replay_store=liar).decide(world.input())) == ["deny", "replay.detected"]
