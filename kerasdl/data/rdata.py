"""A minimal reader for R lazy-load databases (``data/Rdata.rdb`` + ``.rdx``) holding plain vectors.

R packages ship their datasets as a lazy-load database: ``Rdata.rdx`` is a gzip-compressed R
serialisation of ``list(variables = list(name = c(offset, length)), ...)``; each object lives in
``Rdata.rdb`` at ``offset`` as a 4-byte big-endian length followed by a zlib stream of its own
serialisation (R's XDR format, "R Internals" §1.8). This reader understands what data packages
such as janeaustenr hold — character, integer, double and logical vectors, lists (named ones
become dicts), attribute pairlists, symbols and back-references — and raises ``ValueError`` on
anything else. Other attributes are parsed and dropped; NA strings become ``None``.
"""
from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

_NIL, _REF, _SYM, _LIST, _CHAR, _LGL, _INT, _REAL, _STR, _VEC = 254, 255, 1, 2, 9, 10, 13, 14, 16, 19
_ENVS = {253, 242, 241, 250}  # global, empty, base env, base namespace: no payload


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos, self.refs = data, 0, []

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("truncated R serialisation")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def int(self) -> int:
        return struct.unpack(">i", self.take(4))[0]

    def length(self) -> int:
        n = self.int()
        if n == -1:  # long vector: two more ints
            hi, lo = self.int(), self.int()
            n = (hi << 32) + lo
        return n

    def header(self) -> None:
        if self.take(2) != b"X\n":
            raise ValueError("not an XDR R serialisation (expected 'X\\n')")
        version = self.int()
        self.int(), self.int()  # writer and minimal reader versions
        if version == 3:
            self.take(self.int())  # native encoding name

    def item(self):
        flags = self.int()
        kind, has_attr, has_tag = flags & 0xFF, bool(flags & (1 << 9)), bool(flags & (1 << 10))
        if kind == _NIL or kind in _ENVS:
            return None
        if kind == _REF:
            index = flags >> 8 or self.int()
            return self.refs[index - 1]
        if kind == _SYM:
            name = self.item()
            self.refs.append(name)
            return name
        if kind == _CHAR:
            n = self.int()
            return None if n == -1 else self.take(n).decode("utf-8", errors="replace")
        if kind == _LIST:  # pairlist node: [attr] [tag] car cdr
            if has_attr:
                self.item()
            tag = self.item() if has_tag else None
            node = [(tag, self.item())]
            rest = self.item()
            return node + (rest or [])
        if kind in (_STR, _VEC):
            value = [self.item() for _ in range(self.length())]
        elif kind == _INT or kind == _LGL:
            n = self.length()
            value = list(struct.unpack(f">{n}i", self.take(4 * n)))
        elif kind == _REAL:
            n = self.length()
            value = list(struct.unpack(f">{n}d", self.take(8 * n)))
        else:
            raise ValueError(f"R object type {kind} is not supported by this reader")
        attributes = dict(self.item()) if has_attr else {}
        if kind == _VEC and attributes.get("names"):
            return dict(zip(attributes["names"], value))
        return value


def unserialize(data: bytes):
    """Parse one XDR R serialisation (uncompressed) into Python lists/strings/numbers."""
    reader = _Reader(data)
    reader.header()
    return reader.item()


def _inflate(block: bytes) -> bytes:
    """A lazy-load block: 4-byte big-endian uncompressed length, then a zlib stream."""
    size = struct.unpack(">I", block[:4])[0]
    data = zlib.decompress(block[4:])
    if len(data) != size:
        raise ValueError(f"R lazy-load block inflates to {len(data)} bytes, header says {size}")
    return data


def read_lazyload_db(rdx: Path, rdb: Path) -> dict:
    """All objects of an R lazy-load database as ``{name: value}`` (see the module docstring)."""
    variables = unserialize(gzip.decompress(Path(rdx).read_bytes()))["variables"]
    blob = Path(rdb).read_bytes()
    out = {}
    for name, (offset, length) in sorted(variables.items()):
        out[name] = unserialize(_inflate(blob[offset:offset + length]))
    return out
