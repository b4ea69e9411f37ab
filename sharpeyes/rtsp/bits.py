"""Bit-level reading of H.264/H.265 RBSP data: fixed-width and Exp-Golomb fields, bounded."""

from __future__ import annotations

from sharpeyes.rtsp.errors import ProtocolError


def unescape_rbsp(nal: bytes) -> bytes:
    """Remove emulation-prevention bytes (``00 00 03`` → ``00 00``) from a NAL unit."""
    if b"\x00\x00\x03" not in nal:
        return nal
    out = bytearray()
    zeros = 0
    for byte in nal:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


class BitReader:
    """Reads bits most-significant first. Reading past the end raises :class:`ProtocolError`."""

    __slots__ = ("_data", "_pos", "_size")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0
        self._size = len(data) * 8

    def u(self, n: int) -> int:
        """An unsigned ``n``-bit field."""
        if self._pos + n > self._size:
            raise ProtocolError("truncated parameter set")
        value = 0
        for _ in range(n):
            byte = self._data[self._pos >> 3]
            value = (value << 1) | ((byte >> (7 - (self._pos & 7))) & 1)
            self._pos += 1
        return value

    def skip(self, n: int) -> None:
        if self._pos + n > self._size:
            raise ProtocolError("truncated parameter set")
        self._pos += n

    def ue(self) -> int:
        """An unsigned Exp-Golomb field (at most 32 bits of prefix)."""
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ProtocolError("Exp-Golomb field too long")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        """A signed Exp-Golomb field."""
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)
