"""The Python client's part of `./mvnw verify` (clients/python/pom.xml runs it): a project-local virtualenv from the
pinned, hashed requirements, then ruff, mypy --strict and pytest. Needs nothing but CPython 3.11 to 3.13 (the pinned
wheels are for those; the package itself runs on 3.10+).

    python3 build.py            # venv (made or reused), checks, tests
    python3 build.py --venv     # only make the venv (the Java cross-language tests use it)
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / "target" / "venv"
REQUIREMENTS = HERE / "requirements.txt"


def run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    done = subprocess.run([str(a) for a in args], cwd=HERE, env=env, check=False)  # noqa: S603
    if done.returncode != 0:
        sys.exit(f"embedseal python client: {Path(str(args[0])).name} failed (exit {done.returncode})")


def make_venv() -> Path:
    python = VENV / "bin" / "python"
    stamp = VENV / "requirements.sha256"
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == want:
        return python
    print(f"embedseal python client: creating {VENV} from {REQUIREMENTS.name} (pinned by hash)", flush=True)
    venv.EnvBuilder(clear=True, with_pip=True).create(VENV)
    run(
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--require-hashes",
        "--only-binary=:all:",
        "-r",
        REQUIREMENTS,
    )
    # The package itself, from the source tree: a .pth file, as an editable install would write (no build backend).
    site = subprocess.run(  # noqa: S603
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "embedseal-src.pth").write_text(str(HERE / "src") + "\n")
    stamp.write_text(want)
    return python


def main() -> None:
    # This file may be run by another Python: it says which ones the build takes.
    if not (3, 11) <= sys.version_info[:2] <= (3, 13):
        sys.exit(
            f"embedseal python client: the build's pinned wheels (requirements.txt) are for CPython 3.11 to 3.13, this "
            f"is {sys.version.split()[0]}; run the build with -Dembedseal.python=python3.1x (or skip the Python "
            "client: "
            "-Dembedseal.python.skip=true)"
        )
    if "--skip=true" in sys.argv:
        print("embedseal python client: checks and tests SKIPPED (-Dembedseal.python.skip=true)", flush=True)
        return
    python = make_venv()
    if "--venv" in sys.argv:
        return
    bin_dir = python.parent
    run(bin_dir / "ruff", "check", "src", "tests")
    run(bin_dir / "ruff", "format", "--check", "src", "tests")
    run(bin_dir / "mypy", "src")
    reports = HERE / "target" / "surefire-reports"
    reports.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    run(
        python,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--junitxml={reports / 'TEST-python-client.xml'}",
        env=env,
    )


if __name__ == "__main__":
    main()
