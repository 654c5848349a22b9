"""Reading a submission zip safely: every member checked before anything is extracted.

Refused (each listed as a problem): a member outside the target folder (absolute path, ``..``,
a drive letter or backslash path), a symbolic link, a hidden or ``__MACOSX`` entry, a member
larger than ``max_member_bytes`` or a total larger than ``max_total_bytes`` (declared sizes,
checked before extraction), and a compression ratio above ``max_ratio`` (a zip bomb). While
extracting, no member may write more bytes than it declared.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

MAX_MEMBER_BYTES = 1 << 30  # 1 GiB: far above any challenge output file
MAX_TOTAL_BYTES = 64 << 30  # 64 GiB
MAX_RATIO = 100  # FLAC barely compresses again; a bomb compresses a thousandfold


def member_problems(info: zipfile.ZipInfo, max_member_bytes: int, max_ratio: float) -> list[str]:
    name = info.filename
    parts = PurePosixPath(name).parts
    problems = []
    if name.startswith(("/", "\\")) or "\\" in name or (len(name) > 1 and name[1] == ":"):
        problems.append(f"{name}: absolute or non-POSIX path")
    if ".." in parts:
        problems.append(f"{name}: leads outside the submission folder ('..')")
    if stat.S_ISLNK(info.external_attr >> 16):
        problems.append(f"{name}: symbolic link")
    if any(p.startswith(".") or p == "__MACOSX" for p in parts):
        problems.append(f"{name}: hidden or __MACOSX entry")
    if info.file_size > max_member_bytes:
        problems.append(f"{name}: {info.file_size} bytes uncompressed, more than the {max_member_bytes} allowed")
    if info.compress_size and info.file_size / info.compress_size > max_ratio:
        problems.append(f"{name}: compression ratio {info.file_size / info.compress_size:.0f}, more than {max_ratio} "
                        "(a zip bomb?)")
    return problems


def safe_extract(archive: Path, target: Path, max_member_bytes: int = MAX_MEMBER_BYTES,
                 max_total_bytes: int = MAX_TOTAL_BYTES, max_ratio: float = MAX_RATIO) -> list[str]:
    """Extract `archive` into `target` if every member is safe; returns the problems ([] when
    extracted). Nothing is written when there is any problem."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as err:
        return [f"{archive}: not a readable zip ({err})"]
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        problems = [p for m in members for p in member_problems(m, max_member_bytes, max_ratio)]
        names = [m.filename for m in members]
        problems += [f"{n}: listed twice in the zip" for n in sorted({n for n in names if names.count(n) > 1})]
        total = sum(m.file_size for m in members)
        if total > max_total_bytes:
            problems.append(f"{archive}: {total} bytes uncompressed, more than the {max_total_bytes} allowed")
        if problems:
            return problems
        target = Path(target)
        for m in members:
            dest = target / PurePosixPath(m.filename)
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(m) as src, open(dest, "wb") as out:
                written = _copy_at_most(src, out, m.file_size)
            if written is None:
                shutil.rmtree(target, ignore_errors=True)
                return [f"{m.filename}: holds more bytes than its header declares"]
    return []


def _copy_at_most(src, out, limit: int) -> int | None:
    written = 0
    while True:
        block = src.read(1 << 20)
        if not block:
            return written
        written += len(block)
        if written > limit:
            return None
        out.write(block)
