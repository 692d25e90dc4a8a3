"""Writing output files so that a killed or failing process never leaves a half-written one.

* :func:`atomic_write` / :func:`write_text`: every output file is written to a
  hidden temporary name in its own folder (``.NAME.<random>.tmp``) and renamed over
  ``NAME`` (:func:`os.replace`, atomic on POSIX and Windows): readers see the old
  file or the whole new one, never a 0-byte or truncated file.
* :func:`staged_folder`: a set of files that belong together (one run's summary,
  report, time series and figures; one comparison's tables) is written into a
  hidden sibling folder, then renamed to the output folder in one step, so the
  folder holds one whole run or another, never a mix and never a stale file of an
  earlier run.
* :func:`check_writable` / :func:`check_output_folder`: called before any work, so
  an unwritable ``--out`` or an earlier run in it is refused up front, not after
  the simulation.

See ``docs/outputs.md`` (section "Writing").
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import shutil
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

from .scenario import ScenarioError

__all__ = [
    "TMP_SUFFIX",
    "OutputError",
    "Staging",
    "atomic_write",
    "check_output_folder",
    "check_writable",
    "FOLDER_LOCK",
    "folder_lock",
    "marked_block",
    "staged_folder",
    "write_text",
    "update_generated",
]

#: Ending of every temporary file and folder (never ``.json``, ``.csv``..., so globs of outputs skip them).
TMP_SUFFIX = ".tmp"


class OutputError(ScenarioError):
    """An output folder that cannot be written, or holds files that would be overwritten (exit status 2)."""


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{TMP_SUFFIX}")


@contextlib.contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``, on failure delete it.

    Writers that infer the format from the file name (matplotlib) must be given the
    format explicitly: the temporary name ends in ``.tmp``.

    Examples
    --------
    >>> import pandas as pd, tempfile                                   # doctest: +SKIP
    >>> with atomic_write(Path(tempfile.mkdtemp()) / "t.csv") as tmp:   # doctest: +SKIP
    ...     pd.DataFrame({"a": [1]}).to_csv(tmp, index=False)
    """
    path = Path(path)
    tmp = _tmp_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`atomic_write`)."""
    path = Path(path)
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def check_writable(folder: str | Path, *, option: str = "--out", create: bool = True) -> Path:
    """Create ``folder`` if needed and check that a file can be created in it (by creating one).

    A real probe file, not :func:`os.access`: it also catches read-only file
    systems, and root (for whom permission bits do not stop writing). With
    ``create=False`` a missing folder is not created: the probe goes into its
    nearest existing ancestor, which must be a folder, and nothing is left behind
    (for checks that must write nothing before later input checks pass).

    Raises
    ------
    OutputError
        Naming the folder and the reason, e.g. ``--out: cannot write in out (Permission denied)``.
    """
    folder = Path(folder)
    where = folder
    if create:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create {folder} ({_reason(exc)})", path=option) from None
    else:
        while not where.exists() and where != where.parent:
            where = where.parent
        if not where.is_dir():
            raise OutputError(f"cannot create {folder} ({where} is not a folder)", path=option)
    probe = where / f".embosim-probe.{secrets.token_hex(4)}{TMP_SUFFIX}"
    try:
        probe.open("x").close()
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"cannot write in {folder} ({_reason(exc)})", path=option) from None
    return folder


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.iterdir()) if folder.is_dir() else []


def check_output_folder(folder: str | Path, *, marker: str, force: bool, option: str = "--out",
                        create: bool = True) -> Path:
    """Check before any work that a run can be written to ``folder`` (see :func:`staged_folder`).

    ``folder`` must be writable (and its parent, which receives the staging
    folder). It may be missing or empty; a folder holding an earlier output (its
    ``marker`` file, e.g. ``summary.json``) is replaced only with ``force``; any
    other non-empty folder is refused even with ``force`` (its files are not ours
    to delete). With ``create=False`` nothing is created (the check before a long
    run: a run that then fails leaves no empty folder behind); the writing creates it.

    Raises
    ------
    OutputError
    """
    folder = Path(folder)
    check_writable(folder, option=option, create=create)
    check_writable(Path(os.path.abspath(folder)).parent, option=option, create=create)
    entries = [p for p in _entries(folder) if not p.name.endswith(TMP_SUFFIX)]
    if not entries:
        return folder
    if not (folder / marker).is_file():
        raise OutputError(f"{folder} is not empty and holds no earlier embosim output ({marker}); choose a new or "
                          "empty folder", path=option)
    inside = next((p for p in entries if p.is_dir()), None)
    if inside is not None:  # an output has no sub-folder: it holds more than an earlier output
        raise OutputError(f"{folder} holds an earlier output ({marker}) and a folder of its own ({inside.name}), "
                          "which replacing it would delete; choose a new or empty folder", path=option)
    if not force:
        how = "add --force" if option.startswith("-") else "pass force=True"  # the command line's, or Python's
        raise OutputError(f"{folder} holds an earlier output ({marker}): {how} to replace it (its files are "
                          "all removed) or choose another folder", path=option)
    return folder


def _remove_stale_staging(folder: Path) -> None:
    """Delete staging folders of ``folder`` left by killed processes (their process id is gone)."""
    for stale in folder.parent.glob(f".{folder.name}.staging-*{TMP_SUFFIX}"):
        pid = stale.name.removesuffix(TMP_SUFFIX).rsplit("-", 2)[-2]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, not ours
        return True
    return True


#: The lock file a writer holds in its output folder (:func:`folder_lock`).
FOLDER_LOCK = ".embosim.lock"


@contextlib.contextmanager
def folder_lock(folder: str | Path, *, what: str = "a sweep") -> Iterator[Path]:
    """Hold ``folder`` for one writer at a time: an exclusive lock (``flock``) on ``folder/.embosim.lock``.

    The folder is made if missing, and removed again on exit if this writer made it and left nothing in it but the
    lock. The operating system releases the lock when the process ends, however it ends: a killed writer leaves
    no stale lock. Where ``fcntl`` is missing (Windows) nothing is locked.

    Raises
    ------
    OutputError
        Another process holds the folder (naming its process id and host): two writers started together had
        both passed the checks of an empty folder and mixed their files (review 52).
    """
    try:
        import fcntl
    except ImportError:  # (Windows: no advisory locks here)
        yield Path(folder) / FOLDER_LOCK
        return
    folder = Path(folder)
    made = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FOLDER_LOCK
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise OutputError(f"{folder} is being written by {what} already ({holder}): wait for it to end, "
                              "or choose another output folder") from None
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:  # not a lock file its last holder removed meanwhile
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        import socket

        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()} on {socket.gethostname()}".encode())
        yield path
    finally:
        path.unlink(missing_ok=True)  # (before the lock goes: a later writer makes a fresh file)
        os.close(fd)
        if made:
            with contextlib.suppress(OSError):
                folder.rmdir()  # (only if empty: the writer wrote nothing)


class Staging:
    """What :func:`staged_folder` yields: ``path``, the folder to write into; ``final``, where it ended up."""

    def __init__(self, path: Path, final: Path):
        self.path = path
        self.final = final


@contextlib.contextmanager
def staged_folder(folder: str | Path, *, marker: str, force: bool = True, option: str = "out_dir") -> Iterator[Staging]:
    """Yield an empty staging folder (``.path``); on success it becomes ``folder`` in one rename.

    The staging folder is a hidden sibling, ``.NAME.staging-<pid>-<random>.tmp``.
    On success:

    * ``folder`` missing or empty: the staging folder is renamed to it (atomic);
    * ``folder`` holding an earlier output (``marker``; only with ``force``): that
      folder is renamed aside, the staging folder takes its name, and the earlier
      one is deleted, so no file of the earlier output survives beside the new
      ones. A kill between the two renames leaves both outputs whole in hidden
      siblings, never a mix;
    * ``folder`` filled meanwhile by someone else (so it can no longer be
      replaced): the finished output is not lost but renamed to the first free
      numbered sibling ``NAME-1``, ``NAME-2``..., with a warning.

    ``.final`` is the folder the output ended up in. On an exception the staging
    folder is deleted and ``folder`` is untouched. Staging folders of killed
    processes are deleted the next time.

    Raises
    ------
    OutputError
        ``folder`` cannot take the output (:func:`check_output_folder`), checked on entry; named as ``option``
        (the Python argument by default; the command line checks its ``--out`` before any work).
    """
    shown = Path(folder)
    folder = Path(os.path.abspath(folder))
    check_output_folder(folder, marker=marker, force=force, option=option)
    _remove_stale_staging(folder)
    tag = f"{os.getpid()}-{secrets.token_hex(4)}"
    staging = folder.with_name(f".{folder.name}.staging-{tag}{TMP_SUFFIX}")
    staging.mkdir()
    stage = Staging(staging, shown)
    try:
        yield stage
        try:
            check_output_folder(folder, marker=marker, force=force)
        except OutputError as exc:  # filled meanwhile: keep the finished output beside it
            sibling = _numbered_sibling(folder)
            os.replace(staging, sibling)
            stage.final = shown.with_name(sibling.name)
            warnings.warn(f"{exc}; wrote to {stage.final} instead", stacklevel=3)
            return
        _swap_in(staging, folder, tag)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _numbered_sibling(folder: Path) -> Path:
    for k in itertools.count(1):
        sibling = folder.with_name(f"{folder.name}-{k}")
        if not sibling.exists():
            return sibling
    raise AssertionError("unreachable")


def _swap_in(staging: Path, folder: Path, tag: str) -> None:
    for stray in folder.glob(f"*{TMP_SUFFIX}") if folder.is_dir() else ():
        with contextlib.suppress(OSError):
            stray.unlink()  # temporary files of a killed writer
    try:
        os.replace(staging, folder)  # missing or empty folder: one atomic rename
        return
    except OSError:
        if not _entries(folder):  # an empty folder that cannot be renamed over (a mount point): move the files in
            for path in _entries(staging):
                os.replace(path, folder / path.name)
            staging.rmdir()
            return
    old = folder.with_name(f".{folder.name}.old-{tag}{TMP_SUFFIX}")
    os.replace(folder, old)
    os.replace(staging, folder)
    shutil.rmtree(old, ignore_errors=True)


def marked_block(text: str, begin: str, end: str) -> str:
    """The part of ``text`` from the marker ``begin`` to the marker ``end``, both included (a generated block of a
    document; ValueError when a marker is missing)."""
    start, stop = text.index(begin), text.index(end) + len(end)
    return text[start:stop]


def update_generated(path: Path, text: str, *, check: bool, command: str, installed: bool = False) -> int:
    """Write a generated document, or with ``check`` only compare it; exit status 0, or 1 when out of date.

    ``installed``: ``path`` is the page an installed package ships (read-only to this command): checking it
    works, writing it is refused with one line (exit status 2) naming ``--out``.
    """
    if installed and not check:
        print(f"{command}: {path} is the page an installed package ships; write the page elsewhere with "
              "--out FILE (in a source checkout the command rewrites docs/)", file=sys.stderr)
        return 2
    if check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is out of date: run {command}", file=sys.stderr)
            return 1
        return 0
    write_text(path, text)
    print(f"wrote {path}")
    return 0
