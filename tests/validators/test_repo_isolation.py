"""A candidate running in the repository context cannot change the user's working tree or the
snapshot, on either backend; the repository's own dependencies come from ``site_packages``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from beadline.validators.errors import UserError
from beadline.validators.executor import Executor, RunRequest, TestCase
from beadline.validators.sandbox.factory import make_executor
from beadline.validators.sandbox.local import LocalExecutor
from beadline.validators.snapshot import default_store, module_context
from beadline.validators.stages import check_integration, check_module_imports

from .conftest import copy_fixture, tree_digest

HOSTILE = """

ORIGIN = {origin!r}


def order_total(items):
    import os
    import shutil

    here = os.path.dirname(os.path.abspath(__file__))
    done = []
    for root in (ORIGIN, os.path.dirname(here)):
        pkg = os.path.join(root, "shop")

        def overwrite():
            with open(os.path.join(pkg, "models.py"), "w") as handle:
                handle.write("TAX_RATE = 0\\n")

        def append():
            with open(os.path.join(pkg, "pricing.py"), "a") as handle:
                handle.write("# owned\\n")

        attempts = {{
            "overwrite": overwrite,
            "append": append,
            "unlink": lambda: os.unlink(os.path.join(pkg, "auth.py")),
            "create": lambda: open(os.path.join(root, "evil.py"), "x").close(),
            "rename": lambda: os.rename(os.path.join(pkg, "__init__.py"), os.path.join(pkg, "x")),
            "chmod": lambda: os.chmod(os.path.join(pkg, "models.py"), 0o777),
            "symlink": lambda: os.symlink("/etc/passwd", os.path.join(root, "link")),
            "mkdir": lambda: os.mkdir(os.path.join(pkg, "new")),
            "rmtree": lambda: shutil.rmtree(pkg),
        }}
        for name, attempt in attempts.items():
            try:
                attempt()
                done.append(name + " " + root)
            except OSError:
                pass
    return done
"""


def _hostile(repo: Path) -> str:
    text = (repo / "shop" / "pricing.py").read_text()
    head = text.split("def order_total")[0]
    return head + HOSTILE.format(origin=str(repo))


@pytest.mark.parametrize("world_writable", [False, True], ids=["plain-tree", "world-writable-tree"])
def test_a_hostile_candidate_cannot_change_the_working_tree_or_the_snapshot(
    any_executor: Executor, open_tmp: Path, world_writable: bool
) -> None:
    repo = copy_fixture(open_tmp)
    if world_writable:
        # Only the sandbox's read-only mounts (local) or not mounting it at all (docker)
        # protect a tree every uid may write.
        for path in [repo, *repo.rglob("*")]:
            path.chmod(0o777 if path.is_dir() else 0o666)
    snapshot = default_store().snapshot(repo)
    before = tree_digest(repo)
    snapshot_before = tree_digest(snapshot.path)
    context = module_context(snapshot, "shop/pricing.py", target="order_total")

    result = any_executor.run(
        RunRequest(
            program=_hostile(repo),
            tests=(TestCase.from_assert("assert order_total([]) == []"),),
            context=context,
        )
    )

    assert result.results[0].status == "passed", (
        result.results[0].message,
        result.results[0].return_repr,
    )
    assert tree_digest(repo) == before
    assert tree_digest(snapshot.path) == snapshot_before
    # The next run on the same executor sees the intact snapshot.
    again = any_executor.run(
        RunRequest(
            program=(repo / "shop/pricing.py").read_text(),
            tests=(TestCase.from_assert("assert TAX_RATE == 0.25"),),
            context=context,
        )
    )
    assert again.passed, again.results[0].message


# -- the repository's own dependencies (local) ----------------------------------------------
@pytest.fixture
def site_repo(open_tmp: Path) -> tuple[Path, Path]:
    """A repository whose module needs ``extdep``, and a site-packages directory holding it."""
    repo = copy_fixture(open_tmp)
    (repo / "shop" / "extra.py").write_text(
        "from extdep import VALUE\n\n\ndef answer():\n    return VALUE + 1\n"
    )
    (repo / "tests" / "test_extra.py").write_text(
        "from shop.extra import answer\n\n\ndef test_answer():\n    assert answer() == 42\n"
    )
    site = open_tmp / "venv-site-packages"
    (site / "extdep").mkdir(parents=True)
    (site / "extdep" / "__init__.py").write_text("VALUE = 41\n")
    return repo, site


@pytest.fixture
def site_executor(site_repo: tuple[Path, Path]) -> Iterator[LocalExecutor]:
    with LocalExecutor(workers=1, site_packages=[site_repo[1]]) as executor:
        yield executor


def test_without_the_repositorys_environment_the_preflight_says_so(
    local_executor: Executor, site_repo: tuple[Path, Path]
) -> None:
    context = module_context(default_store().snapshot(site_repo[0]), "shop/extra.py")
    verdict = check_module_imports(context, local_executor)
    assert not verdict.ok
    assert "ModuleNotFoundError: No module named 'extdep'" in verdict.summary
    assert "site_packages" in verdict.summary


def test_site_packages_are_importable_and_read_only(
    site_executor: LocalExecutor, site_repo: tuple[Path, Path]
) -> None:
    repo, site = site_repo
    context = module_context(default_store().snapshot(repo), "shop/extra.py", target="answer")
    assert check_module_imports(context, site_executor).ok
    program = (repo / "shop" / "extra.py").read_text() + (
        "\n\ndef tamper():\n"
        "    import extdep, os\n"
        "    try:\n"
        "        with open(extdep.__file__, 'w') as handle:\n"
        "            handle.write('VALUE = 0')\n"
        "    except OSError as exc:\n"
        "        return type(exc).__name__\n"
        "    return 'written'\n"
    )
    result = site_executor.run(
        RunRequest(
            program=program,
            tests=(
                TestCase.from_assert("assert answer() == 42"),
                TestCase.from_assert("assert tamper() != 'written'"),
            ),
            context=context,
        )
    )
    assert result.passed, [r.message for r in result.results]
    assert (site / "extdep" / "__init__.py").read_text() == "VALUE = 41\n"
    command = ("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_extra.py")
    verdict = check_integration(repo, {}, command, site_executor, context=context)
    assert verdict.ok, verdict.evidence


def test_bad_site_packages_options(open_tmp: Path) -> None:
    with pytest.raises(UserError, match="site-packages directory '/nonexistent' does not exist"):
        LocalExecutor(site_packages=["/nonexistent"])
    with pytest.raises(UserError, match="takes a list of directories"):
        LocalExecutor(site_packages=str(open_tmp))  # type: ignore[arg-type]
    with pytest.raises(UserError, match="site_packages is an option of the local sandbox"):
        make_executor("docker", site_packages=[str(open_tmp)])
    with make_executor("auto", workers=1, site_packages=[str(open_tmp)]) as executor:
        assert executor.name == "local"
        assert "site_packages given" in executor.reason


@pytest.mark.docker
def test_a_docker_image_with_the_repositorys_dependencies(
    site_repo: tuple[Path, Path], open_tmp: Path
) -> None:
    """The README's recipe: the dependencies copied into an image built on the sandbox image."""
    import docker

    from beadline.validators.sandbox.docker import DockerExecutor
    from beadline.validators.sandbox.probe import DEFAULT_IMAGE

    repo, site = site_repo
    build = open_tmp / "image"
    shutil.copytree(site, build / "deps")
    (build / "Dockerfile").write_text(
        f"FROM {DEFAULT_IMAGE}\n"
        "COPY deps/ /opt/repo-deps/\n"
        'RUN python3 -c "import site, pathlib; pathlib.Path(site.getsitepackages()[0], '
        "'repo-deps.pth').write_text('/opt/repo-deps\\\\n')\"\n"
    )
    client = docker.from_env()
    tag = f"beadline-test-deps:{os.getpid()}"
    client.images.build(path=str(build), tag=tag, rm=True)
    try:
        context = module_context(default_store().snapshot(repo), "shop/extra.py", target="answer")
        with DockerExecutor(image=tag, workers=1) as executor:
            assert check_module_imports(context, executor).ok
            command = (
                "python",
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "tests/test_extra.py",
            )
            verdict = check_integration(repo, {}, command, executor, context=context)
            assert verdict.ok, verdict.evidence
    finally:
        client.images.remove(tag, force=True)
