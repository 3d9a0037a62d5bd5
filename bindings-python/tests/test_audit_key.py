"""`verify_audit_log(path, key=None)`: a keyed (HMAC-SHA256) audit chain, written here from the
documented format (host-rust/src/audit/mod.rs, "Keyed chain") and verified by the native code
with the key as bytes or as a key file, the wrong key, no key, and after a forged rewrite."""

import hashlib
import hmac
import json
import pathlib

import pytest

import mandate_pdp as m

KEY = bytes(range(32))
OTHER = bytes(range(100, 132))


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def link(key, line):
    """The chain link of a line: HMAC-SHA256 under the key, or SHA-256 without one."""
    if key is None:
        return hashlib.sha256(line.encode()).hexdigest()
    return hmac.new(key, line.encode(), hashlib.sha256).hexdigest()


def write_log(path, audits, key):
    """Writes `audits` as a log chained under `key` (the unkeyed format when `key` is None), and
    its head. Answers the lines and the last link."""
    prev = link(key, "") if key is not None else "0" * 64
    lines = []
    for seq, audit in enumerate(audits, start=1):
        record = {"audit": audit, "prev": prev, "seq": seq}
        if key is not None:
            record["chain"] = "hmac-sha256"
        line = canonical(record)
        lines.append(line)
        prev = link(key, line)
    pathlib.Path(path).write_text("\n".join(lines) + "\n")
    head = {"hash": prev, "seq": len(lines)}
    if key is not None:
        head["chain"] = "hmac-sha256"
    pathlib.Path(str(path) + ".head").write_text(canonical(head) + "\n")
    return lines, prev


def audits(n):
    return [{"decision_id": f"d{i}", "outcome": "allow", "user": "alice"} for i in range(n)]


def test_a_keyed_log_verifies_with_its_key_as_bytes_or_key_file(tmp_path):
    log = tmp_path / "audit.jsonl"
    _, last = write_log(log, audits(4), KEY)
    assert m.verify_audit_log(str(log), KEY) == (4, last)
    key_file = tmp_path / "chain.key"
    key_file.write_text(KEY.hex() + "\n")
    assert m.verify_audit_log(log, key=str(key_file)) == (4, last)
    assert m.verify_audit_log(log, key=key_file) == (4, last)


def test_a_keyed_log_without_its_key_or_under_another_does_not_verify(tmp_path):
    log = tmp_path / "audit.jsonl"
    write_log(log, audits(3), KEY)
    with pytest.raises(m.MandateError) as e:
        m.verify_audit_log(str(log))
    assert e.value.code == "audit.key_required"
    with pytest.raises(m.MandateError) as e:
        m.verify_audit_log(str(log), OTHER)
    assert e.value.code == "audit.key_mismatch"
    assert "record 1" in e.value.message


def test_an_unkeyed_log_under_a_key_does_not_verify(tmp_path):
    log = tmp_path / "audit.jsonl"
    _, last = write_log(log, audits(2), None)
    assert m.verify_audit_log(str(log)) == (2, last)
    with pytest.raises(m.MandateError) as e:
        m.verify_audit_log(str(log), KEY)
    assert e.value.code == "audit.key_mismatch"


@pytest.mark.parametrize("relink", [None, OTHER], ids=["sha256", "another-key"])
def test_an_edit_with_every_later_link_and_the_head_recomputed_is_found(tmp_path, relink):
    log = tmp_path / "audit.jsonl"
    lines, _ = write_log(log, audits(5), KEY)
    forged = audits(5)
    forged[2]["outcome"] = "deny"
    # Records 1 and 2 kept; record 3 edited (its prev is still the true link of record 2), and
    # every link after it, and the head, recomputed by someone without the key.
    kept = lines[:2]
    edited = json.loads(lines[2])
    edited["audit"] = forged[2]
    out = kept + [canonical(edited)]
    prev = link(relink, out[-1])
    for seq in range(4, 6):
        line = canonical({"audit": forged[seq - 1], "chain": "hmac-sha256", "prev": prev, "seq": seq})
        out.append(line)
        prev = link(relink, line)
    log.write_text("\n".join(out) + "\n")
    (tmp_path / "audit.jsonl.head").write_text(
        canonical({"chain": "hmac-sha256", "hash": prev, "seq": 5}) + "\n"
    )
    with pytest.raises(m.MandateError) as e:
        m.verify_audit_log(str(log), KEY)
    assert e.value.code == "audit.tampered"
    assert "record 4" in e.value.message


def test_a_key_that_is_not_one_is_refused(tmp_path):
    log = tmp_path / "audit.jsonl"
    write_log(log, audits(1), KEY)
    with pytest.raises(m.MandateError) as e:
        m.verify_audit_log(str(log), b"short")
    assert e.value.code == "audit.key_invalid"
    bad = tmp_path / "bad.key"
    bad.write_text("not hex")
    with pytest.raises(m.MandateError) as e:
        m.verify_audit_log(str(log), bad)
    assert e.value.code == "audit.key_invalid"
