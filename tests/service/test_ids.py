"""Comment ids: unique, in the order they were made, and never repeated by a forked process."""

from __future__ import annotations

import base64
import hmac
import os

from feedback_service import ids


def test_ids_are_unique_and_follow_the_clock():
    made = [ids.new_comment_id() for _ in range(5000)]
    assert len(set(made)) == len(made)
    assert all(len(value) == 28 and value.startswith("c_") for value in made)
    # The first ten digits are the millisecond: ids made later sort after earlier ones.
    stamps = [value[2:12] for value in made]
    assert stamps == sorted(stamps)


def test_an_id_spells_its_millisecond_and_random_bits_in_crockford_digits(monkeypatch):
    """The spelling ids have always had: RFC 4648 base 32 of the 128 bits, in Crockford's digits."""
    monkeypatch.setattr(ids.time, "time", lambda: 1_764_000_000.123)
    monkeypatch.setattr(ids._random, "take", lambda count: bytes(range(0xF0, 0xF0 + count)))
    value = (1_764_000_000_123 << 80) | int.from_bytes(bytes(range(0xF0, 0xFA)), "big")
    rfc4648 = base64.b32encode((value << 6).to_bytes(17, "big"))[:26].decode()
    expected = rfc4648.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ids.CROCKFORD))
    assert ids.new_comment_id() == "c_" + expected
    assert int(expected.translate(str.maketrans(ids.CROCKFORD, "0123456789ABCDEFGHIJKLMNOPQRSTUV")), 32) == value


def test_a_forked_process_never_hands_out_its_parents_random_bytes():
    ids.new_comment_id()  # the pool holds bytes now
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(write, ids._random.take(64))
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    childs = os.read(read, 64)
    os.close(read)
    assert len(childs) == 64
    assert childs != ids._random.take(64)


def test_the_keyed_digests_are_hmac_sha256():
    """Delete tokens handed out earlier must keep working: the same HMAC as before."""
    expected = hmac.digest(b"secret", b"delete\0c_1", "sha256").hex()
    assert ids.keyed_digest("secret", b"delete", "c_1") == expected
