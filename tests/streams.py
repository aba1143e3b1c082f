"""Test helpers shared by the audience readers' tests."""

from __future__ import annotations

from collections.abc import Iterator


class GeneratedStream:
    """A binary stream backed by a generator: nothing but the current piece is ever held."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._pending = b""
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._pending) < size:
            piece = next(self._pieces, None)
            if piece is None:
                break
            self.size += len(piece)
            self._pending += piece
        if size < 0:
            out, self._pending = self._pending, b""
        else:
            out, self._pending = self._pending[:size], self._pending[size:]
        return out
