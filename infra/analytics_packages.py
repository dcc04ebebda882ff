"""`python -m infra.analytics_packages build`: the analytics functions' own Lambda packages.

Lambda takes at most 250 MB unzipped per function, and Chalice makes one package for every
function (build/deployment.zip). The analytics functions need heavy dependencies, so each of
their packages is Chalice's package plus the wheels of one requirements file:

  build/analytics.zip   requirements-analytics.txt (numpy, scipy, sqlglot): the analytics HTTP
                        routes, the model-fit jobs and the nightly fit
  build/facts.zip       requirements-facts.txt (DuckDB and its S3 extension): the facts writer

template.yaml points those functions' CodeUri at them; infra.verify_package checks them.
The wheels are the ones Lambda's Python 3.11 runtime (Amazon Linux 2, glibc 2.26) runs, from
pip's cache after the first build. Their tests, type stubs, Cython headers and scripts are left
out: numpy and scipy alone are ~153 MB so, and Lambda counts every byte.
"""
from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"analytics.zip": ROOT / "requirements-analytics.txt", "facts.zip": ROOT / "requirements-facts.txt"}
BASE = "deployment.zip"
# Binary wheels for Lambda's runtime: manylinux2014 (glibc 2.17) or up to glibc 2.26 (DuckDB 1.5's
# wheels need 2.26). --no-deps: each file pins everything it needs (scipy's numpy, the extension's duckdb).
PIP_ARGS = ("--only-binary=:all:", "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_26_x86_64",
            "--implementation", "cp", "--python-version", "3.11", "--no-deps", "--no-compile", "--quiet",
            "--disable-pip-version-check")
PRUNED_DIRECTORIES = ("tests", "__pycache__")
PRUNED_FILES = ("*.pyi", "*.pxd", "*.pyc")
# ...except what runs: numpy.testing (which scipy imports) imports numpy._core.tests._natype.
KEPT = ("numpy/_core/tests/_natype.py",)


def install_wheels(requirements: Path, target: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--target", str(target), *PIP_ARGS,
                    "-r", str(requirements)], check=True)


def shipped(relative: PurePosixPath) -> bool:
    """Whether an installed file goes into the package (bin/: console scripts such as f2py)."""
    if relative.as_posix() in KEPT:
        return True
    return not (relative.parts[0] == "bin" or any(part in PRUNED_DIRECTORIES for part in relative.parts[:-1])
                or any(fnmatch.fnmatch(relative.name, pattern) for pattern in PRUNED_FILES))


def build_package(build_dir: Path, name: str, requirements: Path) -> Path:
    """Chalice's package plus the requirements' wheels (pruned), as build_dir/name."""
    package = build_dir / name
    with tempfile.TemporaryDirectory(prefix="oms-wheels-") as scratch:
        wheels = Path(scratch)
        install_wheels(requirements, wheels)
        shutil.copyfile(build_dir / BASE, package)
        # Appended to a copy of Chalice's zip; the fastest deflate level (half the time, 8% larger).
        with zipfile.ZipFile(package, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            present = set(archive.namelist())
            for path in sorted(p for p in wheels.rglob("*") if p.is_file()):
                relative = PurePosixPath(path.relative_to(wheels).as_posix())
                if not shipped(relative):
                    continue
                if str(relative) in present:  # two copies in a zip: which one Lambda unpacks is anyone's guess
                    raise SystemExit(f"{name}: {relative} is in {BASE} already ({requirements.name} repeats it)")
                archive.write(path, str(relative))
    return package


def unzipped_size(package: Path) -> int:
    with zipfile.ZipFile(package) as archive:
        return sum(info.file_size for info in archive.infolist())


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    build_dir = Path(args[0] if args else "build")
    if not (build_dir / BASE).is_file():
        print(f"{build_dir / BASE} is missing (run chalice package first)", file=sys.stderr)
        return 1
    with ThreadPoolExecutor(max_workers=len(PACKAGES)) as pool:  # pip and zlib mostly wait or release the GIL
        built = list(pool.map(lambda item: build_package(build_dir, *item), PACKAGES.items()))
    for package in [build_dir / BASE, *built]:  # infra.verify_package holds them to Lambda's 250 MB
        megabytes = unzipped_size(package) / 2**20, package.stat().st_size / 2**20
        print(f"{package}: {megabytes[0]:.1f} MB unzipped, {megabytes[1]:.1f} MB zipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
