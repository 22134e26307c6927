"""What a guest kernel must have: its config options, a prebuilt image's check, the build
tools a build needs, and the cache key of a build (source and fragment).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import struct
from pathlib import Path

from gpiosim._errors import KernelBuildError, MissingToolError
from gpiosim.guest._source import (
    _APT_PROGRAMS,
    _BUILD_HEADERS,
    _BUILD_PROGRAMS,
    _FRAGMENT,
    _GUEST_NEEDS,
    ENV_KERNEL,
    MIN_VERSION,
    KernelSource,
    _version_tuple,
    kernel_cache_dir,
    parse_source,
)

__all__ = [
    "cache_key",
    "check_image",
    "find_kernel",
    "missing_build_tools",
    "missing_config_options",
]


# ------------------------------------------------------------------ kernel config


def _parse_config(text: str) -> dict[str, str]:
    """Map option names (without ``CONFIG_``) to values; ``is not set`` is ``n``."""
    options: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        unset = re.fullmatch(r"#\s*CONFIG_(\w+) is not set", line)
        if unset:
            options[unset.group(1)] = "n"
        elif line.startswith("CONFIG_") and "=" in line:
            name, _, value = line[len("CONFIG_") :].partition("=")
            options[name] = value
    return options


def missing_config_options(
    fragment: str, config: str, known: frozenset[str] | None = None
) -> list[str]:
    """List the options a fragment sets ``=y`` that a built ``.config`` lacks.

    kconfig silently drops an option whose dependencies are missing; the result of
    a merge must therefore be checked, not assumed.

    Args:
        fragment: Text of the config fragment (``CONFIG_X=y`` lines).
        config: Text of the resulting ``.config``.
        known: The symbols the kernel's Kconfig files define, if known: a symbol this
            kernel does not have at all (``BASE_FULL`` is gone in 6.12) is not demanded.

    Returns:
        The dropped options as ``CONFIG_X``, in the fragment's order.
    """
    wanted = [name for name, value in _parse_config(fragment).items() if value == "y"]
    if known is not None:
        wanted = [name for name in wanted if name in known]
    built = _parse_config(config)
    return [f"CONFIG_{name}" for name in wanted if built.get(name) != "y"]


def _kconfig_symbols(tree: Path) -> frozenset[str]:
    """Every symbol a kernel tree's Kconfig files define."""
    pattern = re.compile(r"^\s*(?:menu)?config\s+(\w+)", re.MULTILINE)
    symbols: set[str] = set()
    for path in tree.rglob("Kconfig*"):
        with contextlib.suppress(OSError):
            symbols.update(pattern.findall(path.read_text(encoding="utf-8", errors="replace")))
    return frozenset(symbols)


def _image_version(image: Path) -> str | None:
    """The version string an x86 bzImage carries in its setup header, if any."""
    try:
        with image.open("rb") as f:
            head = f.read(0x4000)
    except OSError:
        return None
    if len(head) < 0x210 or head[0x202:0x206] != b"HdrS":
        return None
    (offset,) = struct.unpack_from("<H", head, 0x20E)
    start = offset + 0x200
    if not offset or start >= len(head):
        return None
    return head[start : head.index(b"\0", start)].decode("ascii", "replace").split()[0]


def check_image(image: str | os.PathLike[str]) -> Path:
    """Check a prebuilt guest kernel before it is used; return its path.

    The image must be an x86 bzImage of Linux :data:`MIN_VERSION` or newer, with its
    ``.config`` beside it (``IMAGE.config``, or ``.config`` in its folder, as the cache
    and a restored CI cache keep it) that has every option the guest needs.

    Raises:
        KernelBuildError: the image is missing, not a bzImage, too old, has no
            ``.config`` beside it, or lacks an option; the message says which.
    """
    path = Path(image).expanduser().absolute()
    if not path.is_file():
        raise KernelBuildError(f"the guest kernel {path} does not exist or is not a file")
    version = _image_version(path)
    if version is None:
        raise KernelBuildError(f"{path} is not an x86 bzImage (no setup header found)")
    series = _version_tuple(version)
    if series is None or series < MIN_VERSION:
        raise KernelBuildError(
            f"{path} is Linux {version}, older than {MIN_VERSION[0]}.{MIN_VERSION[1]}: "
            "gpio-sim needs a newer kernel; build one with `gpiosim guest-kernel`"
        )
    config_path = next(
        (p for p in (Path(f"{path}.config"), path.parent / ".config") if p.is_file()), None
    )
    if config_path is None:
        raise KernelBuildError(
            f"cannot check {path}: put its .config beside it (as {path}.config or "
            f"{path.parent / '.config'}), as gpiosim's kernel cache keeps it"
        )
    built = _parse_config(config_path.read_text(encoding="utf-8", errors="replace"))
    lacking = [f"CONFIG_{name}" for name in _GUEST_NEEDS if built.get(name) != "y"]
    if lacking:
        raise KernelBuildError(
            f"the guest kernel {path} lacks {', '.join(lacking)} (per {config_path}); "
            "build one with `gpiosim guest-kernel`"
        )
    return path


# ------------------------------------------------------------------ build tools


def missing_build_tools(source: KernelSource | None = None) -> list[tuple[str, str]]:
    """The (program or header, Debian package) pairs a build still lacks here."""
    programs: tuple[tuple[str, str], ...] = _BUILD_PROGRAMS
    if source is None or source.kind == "apt":
        programs = _APT_PROGRAMS + programs
    missing = [(prog, pkg) for prog, pkg in programs if shutil.which(prog) is None]
    for header, pkg in _BUILD_HEADERS:
        if not any(
            Path(base, header).is_file()
            for base in ("/usr/include", "/usr/include/x86_64-linux-gnu")
        ):
            missing.append((header, pkg))
    return missing


def _check_build_tools(source: KernelSource | None = None) -> None:
    missing = missing_build_tools(source)
    if missing:
        names = ", ".join(name for name, _ in missing)
        packages = " ".join(dict.fromkeys(pkg for _, pkg in missing))
        raise MissingToolError(
            f"cannot build the guest kernel: {names} not found. "
            f"Install with: apt-get install {packages}"
        )


# ----------------------------------------------------------------- the cache


def _fragment_text(fragment: str | os.PathLike[str] | None) -> str:
    path = Path(fragment) if fragment is not None else _FRAGMENT
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KernelBuildError(f"cannot read the guest kernel fragment {path}: {exc}") from exc


def _fragment_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def cache_key(
    source: KernelSource | str | None = None, fragment: str | os.PathLike[str] | None = None
) -> str:
    """The key a CI cache should store the built kernel under.

    It changes when the source series (or tarball) or the config fragment changes,
    not with a distribution's point release of the same series.
    """
    chosen = source if isinstance(source, KernelSource) else parse_source(source)
    return f"gpiorig-kernel-{chosen.cache_id}-{_fragment_key(_fragment_text(fragment))}"


def find_kernel(
    source: KernelSource | str | None = None, fragment: str | os.PathLike[str] | None = None
) -> Path | None:
    """Return the cached kernel image for a source and fragment, or None; never builds.

    ``$GPIOSIM_KERNEL`` (a prebuilt image) wins over the cache when set.
    """
    prebuilt = os.environ.get(ENV_KERNEL, "").strip()
    if prebuilt:
        return check_image(prebuilt)
    chosen = source if isinstance(source, KernelSource) else parse_source(source)
    folder = kernel_cache_dir() / f"{chosen.cache_id}-{_fragment_key(_fragment_text(fragment))}"
    image = folder / "bzImage"
    return image if image.is_file() else None
