"""Compiling a kernel: the toolchains to try, a cache private to the user, compiler runs bounded in time."""

from __future__ import annotations

import atexit
import contextlib
import grp
import hashlib
import os
import platform
import pwd
import shlex
import shutil
import stat
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from subprocess import SubprocessError

from symcalc.errors import NativeUnavailable, ProgramTimeout
from symcalc.isolate import MEMORY_LIMIT, run_program
from symcalc.numeric.c.source import Source

#: Seconds the compiler may take for one kernel.
COMPILE_TIMEOUT = 120.0


@dataclass(frozen=True)
class Toolchain:
    """One way to build a kernel: the compiler's flags, then the libraries to link."""

    flags: tuple[str, ...]
    libraries: tuple[str, ...]


def toolchains() -> tuple[Toolchain, ...]:
    """Ways to build, best first: with libmvec's vector math (glibc on x86-64), then without; each with
    OpenMP threads, then without; last, portable C with no machine-specific instructions."""
    # -ffp-contract=off: no fused multiply-adds, so each sum rounds as NumPy's does, term by term.
    common = (
        "-O3",
        "-fPIC",
        "-shared",
        "-fno-math-errno",
        "-fno-trapping-math",
        "-ffp-contract=off",
        "-march=native",
    )
    # On Linux an unresolved symbol (libmvec too old for a function, say) fails the build, not a later call.
    strict = ("-Wl,-z,defs", "-Wl,-z,now") if sys.platform.startswith("linux") else ()
    maths = [(("-DSC_VECTOR_MATH",), ("-lmvec", "-lm")), ((), ("-lm",))]
    if not (sys.platform.startswith("linux") and platform.machine().lower() in ("x86_64", "amd64")):
        maths = maths[1:]
    chains = [
        Toolchain((*common, *defines, threads, *strict), libraries)
        for defines, libraries in maths
        for threads in ("-fopenmp", "-fopenmp-simd")
    ]
    chains.append(Toolchain(("-O2", "-fPIC", "-shared", "-ffp-contract=off", *strict), ("-lm",)))
    return tuple(chains)


def cache_directory() -> Path:
    """Where kernels are kept: `$SYMCALC_CACHE_DIR`, else `$XDG_CACHE_HOME/symcalc`, else ~/.cache/symcalc."""
    explicit = os.environ.get("SYMCALC_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "symcalc" / "kernels"


def compiler() -> tuple[str, ...] | None:
    """The C compiler's command: `$CC` (a program on PATH, with any arguments), else `cc`; None if none.

    Read at each build, so a changed `$CC` is honoured.
    """
    try:
        words = shlex.split(os.environ.get("CC", "")) or ["cc"]
    except ValueError:  # unbalanced quotes in $CC
        return None
    program = shutil.which(words[0])
    return (program, *words[1:]) if program else None


@cache
def _machine() -> str:
    """What a -march=native build depends on: the architecture and, on Linux, the CPU's model and flags."""
    parts = [platform.machine(), platform.system()]
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith(("model name", "flags", "Features")):
                    parts.append(line.strip())
                if len(parts) >= 4:
                    break
    except OSError:
        pass
    return "\n".join(parts)


def _others_can_write(info: os.stat_result) -> bool:
    """Someone else may create, rename or remove entries: world-writable, or writable by a group that
    is not the user's own private group (Debian's umask 002 makes ~/.cache 0775 with group = user)."""
    if info.st_mode & 0o002:
        return True
    if info.st_mode & 0o020:
        try:
            group = grp.getgrgid(info.st_gid)
            return bool(group.gr_mem) or group.gr_name != pwd.getpwuid(os.getuid()).pw_name
        except KeyError:
            return True
    return False


def _private(directory: Path) -> bool:
    """Nobody else can put or swap a file in `directory`, so what we load from it is what we built.

    `directory` is a resolved path (no symbolic link in it). It must be ours and writable by
    nobody else; every folder above it must belong to us or to root and be writable by nobody
    else, or be sticky (like /tmp), where others cannot rename or remove what is ours.
    """
    try:
        info = directory.stat()
        if (
            info.st_uid != os.getuid()
            or _others_can_write(info)
            or not os.access(directory, os.W_OK | os.X_OK)
        ):
            return False
        for parent in directory.parents:
            above = parent.stat()
            if above.st_uid not in (0, os.getuid()):
                return False
            if _others_can_write(above) and not above.st_mode & stat.S_ISVTX:
                return False
    except OSError:
        return False
    return True


@cache
def _temporary() -> Path:
    """This process's own kernel folder, when the cache cannot be used; removed when the process ends."""
    directory = tempfile.mkdtemp(prefix="symcalc-kernels-")
    owner = os.getpid()

    def remove() -> None:
        if os.getpid() == owner:  # not from a forked child that exits: the folder is the parent's
            shutil.rmtree(directory, ignore_errors=True)

    atexit.register(remove)
    return Path(directory)


def _workspace() -> Path:
    """The cache directory when it can be made private to this user, else this process's temporary one.

    Missing folders are made one by one with mode 0700 (whatever the umask), and the path is
    resolved once, so a symbolic link swapped after the check cannot redirect what is loaded.
    """
    directory = cache_directory().absolute()
    with contextlib.suppress(OSError):  # a read-only home: the check below sends us to a temporary one
        for folder in [*reversed(directory.parents), directory]:
            if not folder.exists():
                folder.mkdir(mode=0o700)
    with contextlib.suppress(OSError):
        directory = directory.resolve(strict=True)
        if _private(directory):
            return directory
    return _temporary()


def _key(source: Source, chain: Toolchain, cc: tuple[str, ...]) -> str:
    info = os.stat(cc[0])
    identity = [source.text, *chain.flags, *chain.libraries, os.path.realpath(cc[0]), *cc[1:]]
    identity += [str(info.st_mtime_ns), str(info.st_size), _machine()]
    return hashlib.sha256("\0".join(identity).encode()).hexdigest()[:32]


def _compile(
    source: Source, chain: Toolchain, cc: tuple[str, ...], target: Path, timeout: float
) -> str | None:
    """Build `target` from `source`; None on success, else why not (the compiler's first error line).

    Everything the build writes, the compiler's own temporary files included (TMPDIR), is in a
    folder of its own beside the target, removed when the build ends however it ends: by the
    `finally` here, or by `run_program`'s watcher when this process is killed.
    """
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    try:
        c_path, built = work / "kernel.c", work / "kernel.so"
        c_path.write_text(source.text, encoding="utf-8")
        # bounded as the symbolic work is; a timeout stops cc1 and the assembler too
        command = [*cc, *chain.flags, "-o", str(built), str(c_path), *chain.libraries]
        done = run_program(
            command,
            timeout=timeout,
            env={**os.environ, "TMPDIR": str(work)},
            capture=True,
            memory_limit=MEMORY_LIMIT,
            remove_if_killed=(work,),
        )
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if "error" in line.lower()] or ["(no message)"]
            return f"the C compiler failed: {lines[0].strip()}"
        if not built.is_file():
            return "the C compiler wrote no library"
        os.replace(built, target)
        os.replace(c_path, target.with_suffix(".c"))  # kept beside the kernel, for a reader
        return None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def build(source: Source, *, rebuild: bool = False, timeout: float = COMPILE_TIMEOUT) -> Path:
    """A shared library holding `source`'s kernel: from the cache when there (unless `rebuild`), else
    compiled now with the first toolchain that works, each compiler run stopped after `timeout` s."""
    cc = compiler()
    if cc is None:
        raise NativeUnavailable("no C compiler: set CC or install one (cc)")
    try:
        directory = _workspace()
        chains = toolchains()
        targets = [directory / f"kernel-{_key(source, chain, cc)}.so" for chain in chains]
        problem = "no toolchain"
        # Best tier first, from the cache or built now: a lower tier cached after a transient failure
        # of a better one is used only when the better one fails again.
        for k, (chain, target) in enumerate(zip(chains, targets, strict=True)):
            if target.is_file() and not rebuild:
                return target
            try:
                failure = _compile(source, chain, cc, target, timeout)
            except ProgramTimeout:  # no other toolchain is compiled: the time would only double
                cached = [t for t in targets[k + 1 :] if t.is_file() and not rebuild]
                if cached:
                    return cached[0]
                raise NativeUnavailable(f"the C compiler took over {timeout:.0f} s") from None
            if failure is None:
                return target
            problem = failure
    except (OSError, SubprocessError) as error:  # a cache we cannot write, a compiler that vanished
        raise NativeUnavailable(f"the kernel could not be built: {error}") from None
    raise NativeUnavailable(problem)
