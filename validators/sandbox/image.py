"""Build the docker backend's sandbox image, with or without a registry.

Two ways to the same image (Python 3, pytest, an unprivileged ``nobody`` user, no beadline
code — the worker is bind-mounted at run time):

- ``dockerfile``: the packaged :file:`Dockerfile` on a ``python:3.x-slim`` base, where a registry
  answers (the ordinary path);
- ``debootstrap``: a minimal Debian rootfs with ``python3`` and ``python3-pytest`` made by
  ``debootstrap --variant=minbase`` from the mirror apt already uses, then streamed into
  ``docker import`` (no registry needed; about 2.5 min and 150 MB here).

``auto`` takes the Dockerfile when the base image is present or a registry answers for it, else
debootstrap. An existing image is kept unless ``force`` is set.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from beadline.validators.errors import SandboxError, SandboxUnavailableError, UserError
from beadline.validators.sandbox.probe import DEFAULT_IMAGE

if TYPE_CHECKING:
    from docker import DockerClient

__all__ = [
    "DEFAULT_MIRROR",
    "DEFAULT_SUITE",
    "IMAGE_LABEL",
    "BuildMethod",
    "ImageReport",
    "apt_mirror",
    "build_image",
    "check_image",
    "choose_method",
    "docker_client",
    "image_exists",
]

BuildMethod = Literal["auto", "dockerfile", "debootstrap"]
"""How :func:`build_image` makes the image."""

DEFAULT_SUITE = "bookworm"
"""The Debian release the debootstrap image is made of (its ``python3`` is 3.11)."""

DEFAULT_MIRROR = "http://deb.debian.org/debian"
"""The Debian mirror used when apt's sources name none that serves :data:`DEFAULT_SUITE`."""

IMAGE_LABEL = "org.beadline.sandbox"
"""Label set on the sandbox image."""

DOCKERFILE = Path(__file__).with_name("Dockerfile")
"""The packaged Dockerfile of the ``dockerfile`` method."""

_DEBOOTSTRAP_PACKAGES = "python3-minimal,python3,python3-pytest"
_TRIM = (
    "var/cache/apt/archives",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
)
_IMPORT_CHANGES = [
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV PYTHONDONTWRITEBYTECODE=1",
    "ENV PYTHONUNBUFFERED=1",
    "ENV HOME=/tmp",
    f'LABEL {IMAGE_LABEL}="1"',
    "WORKDIR /tmp",
    'CMD ["python3"]',
]

Log = Callable[[str], None]
"""Receives one line of build progress at a time."""


@dataclass(frozen=True, kw_only=True)
class ImageReport:
    """What :func:`build_image` did."""

    tag: str
    """The image's tag."""
    image_id: str
    """The image's id (``sha256:...``)."""
    method: Literal["dockerfile", "debootstrap", "existing"]
    """How it was made (``existing``: it was there and was kept)."""
    built: bool
    """True when this call built it."""
    python_version: str
    """``python3 --version`` inside the image."""
    pytest_version: str
    """pytest's version inside the image."""
    duration_s: float
    """Seconds this call took."""
    size_mb: float
    """The image's size in MB."""


def docker_client(timeout: float = 60.0) -> DockerClient:
    """A Docker SDK client for the environment's engine.

    Raises:
        SandboxUnavailableError: no engine answers (the message says how to start one).
    """
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=int(max(1, timeout)))
        client.ping()
    except (DockerException, OSError) as exc:
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise SandboxUnavailableError(
            f"no Docker engine answers ({first}): start one with "
            "`beadline sandbox start-engine` (machines without systemd) or "
            "`systemctl start docker`"
        ) from exc
    return client


def image_exists(tag: str = DEFAULT_IMAGE, *, client: DockerClient | None = None) -> bool:
    """Whether the engine has an image called ``tag``."""
    from docker.errors import ImageNotFound

    own = client is None
    client = client or docker_client()
    try:
        client.images.get(tag)
        return True
    except ImageNotFound:
        return False
    finally:
        if own:
            client.close()


def _suites_and_uris(text: str) -> Iterator[tuple[str, list[str]]]:
    """(uri, suites) pairs from a classic ``.list`` or a deb822 ``.sources`` file's text."""
    if re.search(r"^\s*URIs\s*:", text, flags=re.MULTILINE | re.IGNORECASE):
        for stanza in re.split(r"\n\s*\n", text):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if line.lstrip().startswith("#") or ":" not in line:
                    continue
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
            if fields.get("enabled", "yes").lower() == "no":
                continue
            if "deb" not in fields.get("types", "deb").split():
                continue
            for uri in fields.get("uris", "").split():
                yield uri, fields.get("suites", "").split()
        return
    for line in text.splitlines():
        line = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
        if len(line) >= 3 and line[0] == "deb":
            yield line[1], [line[2]]


def apt_mirror(suite: str = DEFAULT_SUITE, *, apt_dir: Path = Path("/etc/apt")) -> str:
    """The mirror apt uses for ``suite`` (from ``sources.list`` and ``sources.list.d``).

    Falls back to :data:`DEFAULT_MIRROR` when no source serves ``suite`` (e.g. on Ubuntu).
    """
    files = [apt_dir / "sources.list"]
    with contextlib.suppress(OSError):
        files += sorted((apt_dir / "sources.list.d").iterdir())
    for path in files:
        if path.suffix not in (".list", ".sources"):
            continue
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        for uri, suites in _suites_and_uris(text):
            if suite in suites and uri.startswith(("http://", "https://", "file:")):
                return uri
    return DEFAULT_MIRROR


def _base_image(python_version: str) -> str:
    return f"python:{python_version}-slim"


def choose_method(client: DockerClient, *, python_version: str = "3.12") -> tuple[str, str]:
    """Pick ``dockerfile`` or ``debootstrap`` for ``auto``, and say why.

    Returns:
        ``(method, reason)``.
    """
    from docker.errors import DockerException, ImageNotFound

    base = _base_image(python_version)
    try:
        client.images.get(base)
        return "dockerfile", f"the base image {base} is present"
    except ImageNotFound:
        pass
    except (DockerException, OSError) as exc:
        return "debootstrap", f"could not list images ({exc})"
    try:
        client.api.inspect_distribution(base)  # type: ignore[no-untyped-call]
        return "dockerfile", f"a registry answers for {base}"
    except (DockerException, OSError) as exc:
        first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        return "debootstrap", f"no registry answers for {base} ({first})"


def _emit(log: Log | None, line: str) -> None:
    if log is not None and line.strip():
        log(line.rstrip())


def _build_dockerfile(client: DockerClient, tag: str, python_version: str, log: Log | None) -> str:
    from docker.errors import BuildError, DockerException

    with tempfile.TemporaryDirectory(prefix="beadline-image-") as context:
        shutil.copy(DOCKERFILE, Path(context) / "Dockerfile")
        try:
            image, chunks = client.images.build(
                path=context,
                tag=tag,
                buildargs={"PYTHON_VERSION": python_version},
                rm=True,
                forcerm=True,
                pull=False,
            )
        except BuildError as exc:
            tail = "\n".join(
                str(chunk.get("stream", chunk.get("error", ""))).rstrip()
                for chunk in list(exc.build_log)[-8:]
            )
            raise SandboxError(
                f"building {tag} from the Dockerfile failed: {exc.msg}\n{tail}\n"
                "Without a registry, use `beadline sandbox build-image --method debootstrap`."
            ) from exc
        except DockerException as exc:
            raise SandboxError(f"building {tag} from the Dockerfile failed: {exc}") from exc
        for chunk in chunks:
            if isinstance(chunk, dict):
                _emit(log, str(chunk.get("stream", "")))
        return str(image.id)


def _run_logged(argv: list[str], log: Log | None, what: str, fix: str) -> None:
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    assert process.stdout is not None
    tail: list[str] = []
    for line in process.stdout:
        tail = [*tail[-11:], line.rstrip()]
        _emit(log, line)
    if process.wait() != 0:
        raise SandboxError(
            f"{what} failed with exit code {process.returncode}:\n" + "\n".join(tail) + f"\n{fix}"
        )


def _split_tag(tag: str) -> tuple[str, str]:
    """``repo:tag`` → ``(repo, tag)``; a missing tag is ``latest`` (a registry port is no tag)."""
    repository, sep, version = tag.rpartition(":")
    if not sep or "/" in version:
        return tag, "latest"
    return repository, version


def _build_debootstrap(
    client: DockerClient, tag: str, suite: str, mirror: str, workdir: Path | None, log: Log | None
) -> str:
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise SandboxUnavailableError(
            "the debootstrap build needs the `debootstrap` tool: `apt-get install -y debootstrap`"
        )
    if os.geteuid() != 0:
        raise SandboxUnavailableError(
            "debootstrap needs root: run `sudo beadline sandbox build-image`, or build with "
            "`--method dockerfile` where a registry is reachable"
        )
    parent = workdir or Path("/var/tmp")
    parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="beadline-rootfs-", dir=parent))
    rootfs = scratch / "rootfs"
    try:
        _emit(log, f"debootstrap {suite} from {mirror} into {rootfs} (a few minutes)")
        _run_logged(
            [
                debootstrap,
                "--variant=minbase",
                f"--include={_DEBOOTSTRAP_PACKAGES}",
                suite,
                str(rootfs),
                mirror,
            ],
            log,
            "debootstrap",
            f"Check that {mirror} serves {suite} (pass another with --mirror).",
        )
        for part in _TRIM:
            target = rootfs / part
            if target.is_dir():
                shutil.rmtree(target)
                target.mkdir()
        (rootfs / "opt/beadline/runtime").mkdir(parents=True, exist_ok=True)
        (rootfs / "work").mkdir(exist_ok=True)
        _emit(log, f"importing {rootfs} as {tag}")
        repository, version = _split_tag(tag)
        tar = subprocess.Popen(
            ["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert tar.stdout is not None
        try:
            answer: Any = client.api.import_image_from_stream(
                tar.stdout, repository=repository, tag=version, changes=_IMPORT_CHANGES
            )
        finally:
            tar.stdout.close()
            _, err = tar.communicate()
        if tar.returncode != 0:
            raise SandboxError(f"tar of {rootfs} failed: {err.decode(errors='replace')[-400:]}")
        _emit(log, str(answer)[-200:])
        image = client.images.get(tag)
        return str(image.id)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def check_image(tag: str = DEFAULT_IMAGE, *, client: DockerClient | None = None) -> tuple[str, str]:
    """Run the image once, hardened and offline, and read its Python and pytest versions.

    Returns:
        ``(python_version, pytest_version)``.

    Raises:
        SandboxError: the image does not run Python 3 with pytest as user 65534.
    """
    from docker.errors import DockerException

    own = client is None
    client = client or docker_client()
    probe = "import sys, pytest; print(sys.version.split()[0], pytest.__version__)"
    try:
        output = client.containers.run(
            tag,
            ["python3", "-c", probe],
            remove=True,
            network_mode="none",
            read_only=True,
            tmpfs={"/tmp": "rw,nosuid,nodev,size=16m"},
            user="65534:65534",
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            stdout=True,
            stderr=True,
        )
    except DockerException as exc:
        raise SandboxError(
            f"the image {tag} does not run `python3` with pytest: {exc}; rebuild it with "
            "`beadline sandbox build-image --force`"
        ) from exc
    finally:
        if own:
            client.close()
    words = bytes(output).decode(errors="replace").split()
    if len(words) < 2:
        raise SandboxError(f"the image {tag} printed {words!r} instead of two versions")
    return words[0], words[1]


def build_image(
    tag: str = DEFAULT_IMAGE,
    *,
    method: BuildMethod = "auto",
    force: bool = False,
    python_version: str = "3.12",
    suite: str = DEFAULT_SUITE,
    mirror: str | None = None,
    workdir: Path | None = None,
    log: Log | None = None,
    client: DockerClient | None = None,
) -> ImageReport:
    """Build the sandbox image unless it exists (``force`` rebuilds it), then check it runs.

    Args:
        tag: The image's name.
        method: ``dockerfile``, ``debootstrap`` or ``auto`` (see the module docstring).
        force: Rebuild even when the image exists.
        python_version: The ``python:X-slim`` base of the ``dockerfile`` method.
        suite: The Debian release of the ``debootstrap`` method.
        mirror: The Debian mirror of the ``debootstrap`` method (default: apt's, see
            :func:`apt_mirror`).
        workdir: Where the rootfs is made (default ``/var/tmp``; needs ~300 MB).
        log: Receives progress lines.
        client: A Docker SDK client (default: the environment's engine).

    Raises:
        UserError: an unknown ``method``.
        SandboxUnavailableError: no engine, or a tool the method needs is missing.
        SandboxError: the build failed (the message has the end of its output).
    """
    if method not in ("auto", "dockerfile", "debootstrap"):
        raise UserError(
            f"unknown image build method {method!r}: use auto, dockerfile or debootstrap"
        )
    from docker.errors import DockerException, ImageNotFound

    started = time.monotonic()
    own = client is None
    client = client or docker_client()
    try:
        try:
            old_id: str | None = str(client.images.get(tag).id)
        except ImageNotFound:
            old_id = None
        if old_id is not None and not force:
            chosen: Literal["dockerfile", "debootstrap", "existing"] = "existing"
            image_id = old_id
        else:
            if method == "auto":
                picked, reason = choose_method(client, python_version=python_version)
                _emit(log, f"method {picked}: {reason}")
            else:
                picked = method
            if picked == "dockerfile":
                chosen = "dockerfile"
                image_id = _build_dockerfile(client, tag, python_version, log)
            else:
                chosen = "debootstrap"
                image_id = _build_debootstrap(
                    client, tag, suite, mirror or apt_mirror(suite), workdir, log
                )
            if old_id is not None and old_id != image_id:
                with contextlib.suppress(DockerException):
                    client.images.remove(old_id)  # the replaced image, now untagged
        python, pytest_version = check_image(tag, client=client)
        size = float(client.images.get(tag).attrs.get("Size", 0)) / 1e6
    finally:
        if own:
            client.close()
    return ImageReport(
        tag=tag,
        image_id=image_id,
        method=chosen,
        built=chosen != "existing",
        python_version=python,
        pytest_version=pytest_version,
        duration_s=time.monotonic() - started,
        size_mb=size,
    )
