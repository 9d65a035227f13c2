"""The warm-start entries' checksum (tests/entry_checksum.py, the reference the worker's JavaScript is held to by
tests/test_runtime_snapshot.py): its lanes are MurmurHash3, and it changes for the corruptions that matter."""
from __future__ import annotations

import struct

import pytest

from entry_checksum import SEED_B, checksum, murmur_words


@pytest.mark.parametrize(("data", "seed", "expected"), [
    (b"", 0, 0),
    (b"", 1, 0x514E28B7),
    (b"\0\0\0\0", 0, 0x2362F9DE),
    (b"aaaa", 0x9747B28C, 0x5A97808A),
    (b"abcd", 0x9747B28C, 0xF0478627),
])
def test_a_lane_is_murmurhash3_x86_32(data, seed, expected):
    """Published MurmurHash3_x86_32 values (the same as the mmh3 package's)."""
    words = struct.unpack(f"<{len(data) // 4}I", data)
    assert murmur_words(words, seed, len(data)) == expected


def test_an_aligned_payload_is_two_interleaved_murmurhash3s_with_the_whole_length():
    a, b = struct.unpack("<II", checksum(b"aaaaabcd"))
    assert b == murmur_words([struct.unpack("<I", b"abcd")[0]], SEED_B, 8)
    assert a == murmur_words([struct.unpack("<I", b"aaaa")[0]], 0, 8)


def flipped(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_every_single_bit_flip_changes_it():
    data = bytes(range(61))                     # not a multiple of 8: the padded tail block is covered too
    sums = {checksum(flipped(data, bit)) for bit in range(8 * len(data))}
    assert len(sums) == 8 * len(data) and checksum(data) not in sums


def test_the_same_bit_flipped_in_two_words_of_a_lane_changes_it():
    """A plain xor-multiply hash (FNV) forgets a flip of the top bit once the same bit flips in a later word."""
    data = bytes(64)
    for bit in (31, 7, 0):
        twice = flipped(flipped(data, bit), 64 + bit)       # words 0 and 2: both in lane a
        assert checksum(twice) != checksum(data), bit


def test_cut_short_or_padded_with_zeros_changes_it():
    data = bytes(range(256)) * 8 + bytes(16)
    variants = [data, data[:-1], data[:-8], data + b"\0", data + bytes(8), bytes(len(data))]
    assert len({checksum(v) for v in variants}) == len(variants)
    assert len(checksum(data)) == 8
