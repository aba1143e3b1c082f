"""A compact set of seen addresses, so deduping a million-row file costs megabytes, not a
Python set of strings (about 100 bytes an entry)."""

from __future__ import annotations

import hashlib
from array import array

_EMPTY = 0


class SeenAddresses:
    """Open-addressing hash set of 64-bit digests in one ``array('Q')`` (8 bytes a slot).

    A false "seen" needs two addresses sharing a 64-bit BLAKE2 digest: about 1 in 10^7 for a
    file of 10^6 rows, and such a row is reported as a duplicate, never sent twice.
    """

    def __init__(self, capacity: int = 1 << 14) -> None:
        size = 1
        while size < capacity:
            size <<= 1
        self._slots = array("Q", bytes(8 * size))
        self._mask = size - 1
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @staticmethod
    def _digest(address: str) -> int:
        value = int.from_bytes(hashlib.blake2b(address.encode("utf-8"), digest_size=8).digest(), "little")
        return value or 1  # 0 marks an empty slot

    def add(self, address: str) -> bool:
        """Add ``address``; return False when it was already present."""
        if (self._count + 1) * 2 > len(self._slots):
            self._grow()
        return self._insert(self._digest(address))

    def _insert(self, digest: int) -> bool:
        slots, mask = self._slots, self._mask
        index = digest & mask
        while True:
            current = slots[index]
            if current == _EMPTY:
                slots[index] = digest
                self._count += 1
                return True
            if current == digest:
                return False
            index = (index + 1) & mask

    def _grow(self) -> None:
        old = self._slots
        self._slots = array("Q", bytes(16 * len(old)))
        self._mask = len(self._slots) - 1
        self._count = 0
        for digest in old:
            if digest != _EMPTY:
                self._insert(digest)
