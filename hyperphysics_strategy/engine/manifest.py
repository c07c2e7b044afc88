"""Crash-safe saved directories: staged, checksummed, committed by one rename.

A save writes every file into a hidden staging folder next to its destination, then
``manifest.json`` (the sha256 and size of each file) last, fsyncs them, and renames the
staging folder onto the destination. A process killed at any point therefore leaves the
destination either as it was before or complete; a leftover staging folder is never read.

Loading calls :func:`verify_manifest` first: the bytes are hashed and compared with the
manifest *before* any native loader (LightGBM, XGBoost, CatBoost, ``torch.load``) or
unpickler sees them, so a flipped byte or a truncated file raises
:class:`CorruptSaveError` naming the file instead of crashing the process. The check
covers the folder, not only the manifest's list: a file present but not listed (a
manifest edited to leave a file out, a file dropped in later) is refused too, naming it.
The manifest guards against damage, not against someone who can write the folder: they
can rewrite the manifest as well.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

MANIFEST = "manifest.json"
FORMAT = 1
_STAGING = ".staging-"
_OLD = ".replaced-"


class CorruptSaveError(ValueError):
    """A saved directory is incomplete or its bytes differ from its manifest."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}; refusing to load it")


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _files(directory: Path) -> list[Path]:
    """Every file under ``directory`` but its own manifest (nested saves' manifests count)."""
    top = directory / MANIFEST
    return sorted(p for p in directory.rglob("*") if p.is_file() and p != top)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def fsync_dir(path: Path) -> None:
    """fsync a directory so a rename inside it survives a power cut (no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def write_manifest(directory: Path) -> dict:
    """fsync every file under ``directory`` and write its manifest (atomically, last)."""
    directory = Path(directory)
    files = {}
    for path in _files(directory):
        _fsync_file(path)
        rel = path.relative_to(directory).as_posix()
        files[rel] = {"sha256": sha256_of(path), "size": path.stat().st_size}
    manifest = {"format": FORMAT, "files": files}
    tmp = directory / (MANIFEST + ".tmp")
    with open(tmp, "w") as fh:
        json.dump(manifest, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, directory / MANIFEST)
    fsync_dir(directory)
    return manifest


def verify_manifest(directory: Path) -> dict:
    """Check every file of a saved directory against its manifest; return the manifest.

    Raises :class:`CorruptSaveError` naming the first file that is missing, of the wrong
    size or of the wrong checksum, or present but not listed in the manifest, or the
    manifest itself when it is missing or unreadable.
    """
    directory = Path(directory)
    path = directory / MANIFEST
    if not directory.is_dir():
        raise CorruptSaveError(directory, "no such saved directory")
    try:
        manifest = json.loads(path.read_text())
        files = manifest["files"]
        if manifest.get("format") != FORMAT or not isinstance(files, dict) or not files:
            raise ValueError(f"unknown manifest format {manifest.get('format')!r}")
    except FileNotFoundError:
        raise CorruptSaveError(
            path, "missing: the save was interrupted or written by an older version"
        ) from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CorruptSaveError(path, f"unreadable manifest ({exc})") from exc
    for target in _files(directory):
        if target.relative_to(directory).as_posix() not in files:
            raise CorruptSaveError(
                target, f"not listed in {MANIFEST} (added after the save, or left out of it)"
            )
    for rel, entry in files.items():
        target = directory / rel
        if not target.is_file():
            raise CorruptSaveError(target, "missing from the saved directory")
        size = target.stat().st_size
        if size != entry.get("size"):
            raise CorruptSaveError(
                target, f"{size} bytes where the manifest records {entry.get('size')} (truncated?)"
            )
        if sha256_of(target) != entry.get("sha256"):
            raise CorruptSaveError(target, "sha256 differs from the manifest (corrupted bytes)")
    return manifest


def _replaceable(directory: Path, markers: tuple[str, ...]) -> bool:
    """True for a folder a save may replace: empty, holding a manifest, or (a save of an
    older version) holding a file that matches one of ``markers`` (glob patterns)."""
    if not any(directory.iterdir()) or (directory / MANIFEST).is_file():
        return True
    return any(next(directory.glob(m), None) is not None for m in markers)


def check_replaceable(final: Path, markers: tuple[str, ...] = ()) -> None:
    """Raise ``FileExistsError`` unless a save may replace ``final`` (absent, empty, a saved
    directory or, with ``markers``, an older version's save)."""
    if final.exists() and (not final.is_dir() or not _replaceable(final, markers)):
        raise FileExistsError(
            f"refusing to replace {final}: it holds files that are not a saved model "
            f"(no {MANIFEST}); choose an empty or new folder"
        )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - someone else's process
        return True
    return True


def _leftovers(final: Path) -> list[tuple[str, Path]]:
    """``(kind, folder)`` for the staging/replaced folders of ``final`` whose process died."""
    out = []
    parent, prefix = final.parent, f".{final.name}"
    if not parent.is_dir():
        return out
    for entry in parent.iterdir():
        tail = entry.name[len(prefix) :] if entry.name.startswith(prefix) else ""
        for marker in (_STAGING, _OLD):
            pid = tail[len(marker) :] if tail.startswith(marker) else ""
            if pid.isdigit() and entry.is_dir() and not _pid_alive(int(pid)):
                out.append((marker, entry))
    return out


def recover(final: Path) -> list[Path]:
    """Tidy up after a save killed part-way; return the folders removed.

    A kill between the two renames of :func:`commit_directory` leaves no ``final`` but the
    previous save in a ``.replaced-<pid>`` folder: it is renamed back (when its manifest
    verifies). Staging folders of dead processes are deleted; they were never committed.
    """
    final = Path(final)
    removed = []
    for marker, folder in _leftovers(final):
        if marker == _OLD and not final.exists():
            try:
                verify_manifest(folder)
            except CorruptSaveError:
                pass
            else:
                os.rename(folder, final)
                continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def commit_directory(staging: Path, final: Path, markers: tuple[str, ...] = ()) -> None:
    """Write the manifest of ``staging`` and rename it onto ``final``.

    An existing ``final`` is renamed aside first and deleted after the commit, but only if
    it is empty or itself a saved directory (a manifest, or a file matching ``markers``): a
    folder holding anything else is never replaced.
    """
    staging, final = Path(staging), Path(final)
    write_manifest(staging)
    old = None
    if final.exists():
        check_replaceable(final, markers)
        old = final.with_name(f".{final.name}{_OLD}{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.rename(final, old)
    os.rename(staging, final)
    fsync_dir(final.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def staged_directory(final: Path, markers: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield an empty staging folder; on a clean exit commit it onto ``final``.

    On an exception the staging folder is removed and ``final`` is left untouched.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    check_replaceable(final, markers)
    recover(final)
    staging = final.with_name(f".{final.name}{_STAGING}{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
        commit_directory(staging, final, markers)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
