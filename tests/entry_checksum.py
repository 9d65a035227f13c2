"""The reference for the checksum the demos' worker stores after each warm-start entry (`checksum` in
templates/assets/demos/worker.mjs): the browser tests write garbage followed by this checksum and expect the worker
to accept it, so the two must agree byte for byte.

The payload, padded with zeros to a multiple of 8 bytes, is read as little-endian 32-bit words; lane a takes the
even words (seed 0), lane b the odd ones (seed 0x9747b28c); each lane is MurmurHash3 (x86, 32-bit) over its words,
finalised with the payload's length in bytes. 8 bytes: a then b, little-endian. Against bytes changed on disk or
cut short, not against an adversary (only the origin's own scripts can write its private files)."""
from __future__ import annotations

import struct

MASK = 0xFFFFFFFF
SEED_A, SEED_B = 0, 0x9747B28C


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & MASK


def murmur_block(h: int, k: int) -> int:
    """MurmurHash3_x86_32's step for one 4-byte block k into the state h."""
    k = _rotl((k * 0xCC9E2D51) & MASK, 15)
    h ^= (k * 0x1B873593) & MASK
    return (_rotl(h, 13) * 5 + 0xE6546B64) & MASK


def murmur_final(h: int, length: int) -> int:
    """MurmurHash3_x86_32's finalisation of the state h after `length` bytes."""
    h ^= length
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & MASK
    return h ^ (h >> 16)


def murmur_words(words: tuple[int, ...] | list[int], seed: int, length: int) -> int:
    """One lane: the blocks `words` (uint32) mixed into `seed`, finalised with `length`. With length = 4 * len(words)
    this is MurmurHash3_x86_32 of those words' little-endian bytes."""
    h = seed
    for k in words:
        h = murmur_block(h, k)
    return murmur_final(h, length)


def checksum(payload: bytes) -> bytes:
    """The 8 bytes the worker stores after `payload`."""
    padded = payload + bytes(-len(payload) % 8)
    words = struct.unpack(f"<{len(padded) // 4}I", padded)
    a = murmur_words(words[0::2], SEED_A, len(payload))
    b = murmur_words(words[1::2], SEED_B, len(payload))
    return struct.pack("<II", a, b)
