"""Where a pair's order-book history lives: an injective, readable name for every exchange
and pair, and the names older versions wrote.

``safe_name`` keeps ASCII letters, digits and ``-``, writes ``/`` as ``_`` and every other
character as ``%XX`` (the percent-encoded bytes of its UTF-8 form, ``_`` and ``%``
included): ``BTC/USDT`` -> ``BTC_USDT``, ``BTC/USDT:USDT`` -> ``BTC_USDT%3AUSDT``,
``BTC_USDT/USDT`` -> ``BTC%5FUSDT_USDT``. Two different names never share a file (the
mapping decodes back: :func:`unsafe_name`), and no name can form a path (no ``/``, ``\\``
or ``.`` survives), so the file always lies under the history root.

Versions before this one replaced every character outside ``[A-Za-z0-9_-]`` by ``_``
(:func:`legacy_safe_name`), so ``BTC/USDT:USDT`` and ``BTC_USDT/USDT`` (and any two pairs
of non-ASCII names of one length) shared ``BTC_USDT_USDT.parquet``. Such files are still
read (:func:`legacy_path`), never written.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote

_KEEP = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")
_LEGACY_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_CANONICAL = re.compile(r"(?:[A-Za-z0-9_-]|%[0-9A-F]{2})+")
#: Longest encoded name: the main file's longest sibling (``<name>.parquet.<ms>.corrupt``)
#: must stay within the 255 bytes most file systems allow.
MAX_NAME_BYTES = 200


def safe_name(name: str, what: str = "name") -> str:
    """The file-name form of an exchange or pair name (see the module docstring).

    ``ValueError`` for a name with no ASCII letter or digit (``..``, ``""``) or one whose
    encoded form exceeds ``MAX_NAME_BYTES``."""
    if not isinstance(name, str) or not re.search(r"[A-Za-z0-9]", name):
        raise ValueError(f"{what} {name!r} has no letter or digit: not a usable {what}")
    encoded = "".join(_encode(ch) for ch in name)
    if len(encoded) > MAX_NAME_BYTES:
        raise ValueError(
            f"{what} {name!r} is too long for a file name: {len(encoded)} bytes once "
            f"encoded (at most {MAX_NAME_BYTES})"
        )
    return encoded


def _encode(ch: str) -> str:
    if ch in _KEEP:
        return ch
    if ch == "/":
        return "_"
    return "".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))


def unsafe_name(encoded: str) -> str | None:
    """The name :func:`safe_name` encoded as ``encoded``; ``None`` if it is not one."""
    if not _CANONICAL.fullmatch(encoded):
        return None
    try:
        name = "/".join(unquote(part, errors="strict") for part in encoded.split("_"))
    except UnicodeDecodeError:
        return None
    return name if _safe_or_none(name) == encoded else None


def _safe_or_none(name: str) -> str | None:
    try:
        return safe_name(name)
    except ValueError:
        return None


def legacy_safe_name(name: str) -> str:
    """The name versions before the injective mapping wrote: every character outside
    ``[A-Za-z0-9_-]`` became ``_``."""
    return _LEGACY_UNSAFE.sub("_", name)


def pair_filename(pair: str) -> str:
    """``BTC/USDT:USDT`` -> ``BTC_USDT%3AUSDT.parquet`` (see :func:`safe_name`)."""
    return safe_name(pair, "pair") + ".parquet"


def pair_path(root: str | os.PathLike, exchange: str, pair: str) -> Path:
    """``<root>/<exchange>/<PAIR>.parquet`` with both names made safe; always under root."""
    path = Path(root) / safe_name(exchange, "exchange") / pair_filename(pair)
    if not path.resolve().is_relative_to(Path(root).resolve()):  # pragma: no cover - safety net
        raise ValueError(f"{exchange!r}/{pair!r} would write outside {root}")
    return path


def legacy_path(path: str | os.PathLike) -> Path | None:
    """The file an older version wrote for the history at ``path`` (``<root>/<exchange>/
    <PAIR>.parquet`` as :func:`pair_path` names it), or ``None`` when it had the same name
    (names of ASCII letters, digits, ``-`` and ``/`` only) or ``path`` is not such a name."""
    path = Path(path)
    if path.suffix != ".parquet":
        return None
    names = []
    for encoded in (path.parent.name, path.stem):
        name = unsafe_name(encoded)
        names.append(encoded if name is None else legacy_safe_name(name))
    if (names[0], names[1]) == (path.parent.name, path.stem):
        return None
    return path.parent.parent / names[0] / (names[1] + ".parquet")
