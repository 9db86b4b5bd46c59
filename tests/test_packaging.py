"""The wheel and the sdist hold every module, template, static file and catalogue, and work elsewhere.

The project's tracked files are copied out of the repository and built with
``python -m build``; the wheel is installed (not editable) into a fresh virtual
environment, which borrows only the third-party packages of the running one
(offline: no index is asked). That environment builds a small Sphinx project
with the extension to HTML and PDF.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from pypdf import PdfReader

from .conftest import ROOT

# Where each installed package comes from in the repository.
PACKAGES = {
    "sphinx_handbook": "ext/sphinx_handbook",
    "feedback_formats": "ext/feedback_formats",
    "handbook_editions": "ext/handbook_editions",
    "feedback_service": "feedback_service",
}


# The new environment sees nothing of this checkout, whatever the test run was given.
ELSEWHERE = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


def tracked_package_files() -> dict[str, str]:
    """``{path inside the wheel: path in the repository}`` for every tracked file of our packages."""
    files = subprocess.run(["git", "ls-files", "-z", *PACKAGES.values()], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split("\0")
    installed = {}
    for path in filter(None, files):
        for package, source in PACKAGES.items():
            if path.startswith(source + "/"):
                installed[package + path[len(source):]] = path
    return installed


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> subprocess.CompletedProcess:
    """``python -m build`` of a copy of the repository's tracked files (as they are in the working tree)."""
    work = tmp_path_factory.mktemp("packaging")
    source = work / "source"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True,
                             text=True).stdout.split("\0")
    for path in filter(None, tracked):
        if (ROOT / path).is_file():
            (source / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, source / path)
    result = subprocess.run([sys.executable, "-m", "build", "--outdir", str(work / "dist"), str(source)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    result.dist = work / "dist"
    return result


@pytest.fixture(scope="module")
def dist(built) -> Path:
    return built.dist


def test_no_setuptools_the_build_admits_refuses_the_license_string():
    """An SPDX string in ``license`` (PEP 639) is valid from setuptools 77; older ones stop the build."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert isinstance(pyproject["project"]["license"], str)
    [setuptools] = [Requirement(r) for r in pyproject["build-system"]["requires"] if r.startswith("setuptools")]
    assert not setuptools.specifier.contains("76.1.0"), setuptools


def test_wheel_and_sdist_hold_every_file_of_our_packages(dist):
    expected = tracked_package_files()
    assert any(name.endswith(".po") for name in expected) and any("/_templates/" in name for name in expected)
    [wheel] = dist.glob("*.whl")
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    assert sorted(set(expected) - in_wheel) == []
    [sdist] = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        in_sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert sorted(set(expected.values()) - in_sdist) == []


def test_the_build_warns_of_no_package_it_would_leave_out(built):
    """setuptools' "Package would be ignored" means a folder is missing from the wheel."""
    output = built.stdout + built.stderr
    assert "Successfully built" in output
    assert "would be ignored" not in output and "Warning" not in output


@pytest.fixture(scope="module")
def fresh_python(dist, tmp_path_factory) -> Path:
    """A new virtual environment with the wheel installed; third-party packages borrowed from this one."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                  check=True, capture_output=True, text=True, env=ELSEWHERE).stdout.strip())
    # A path line in a .pth file adds the directory, without running the .pth files in it:
    # the editable install of this checkout stays out of the new environment.
    (purelib / "borrowed.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    [wheel] = dist.glob("*.whl")
    result = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                             "--no-deps", "--no-index", str(wheel)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return python


def test_the_installed_packages_come_from_the_wheel(fresh_python):
    where = subprocess.run(
        [str(fresh_python), "-c",
         "import feedback_service, handbook_editions, sphinx_handbook, sphinx_handbook.pdf; "
         "print(sphinx_handbook.__file__); print(feedback_service.__file__)"],
        check=True, capture_output=True, text=True, cwd="/", env=ELSEWHERE).stdout.split()
    venv = fresh_python.parent.parent
    assert all(Path(path).is_relative_to(venv) for path in where), where


def test_a_project_elsewhere_builds_html_and_pdf_with_the_installed_extension(fresh_python, tmp_path):
    project = tmp_path / "projekt"
    shutil.copytree(ROOT / "tests" / "roots" / "test-feedback", project)
    for builder in ("html", "pdf"):
        result = subprocess.run(
            [str(fresh_python), "-m", "sphinx", "-b", builder, "--fail-on-warning", str(project),
             str(tmp_path / builder)], capture_output=True, text=True, cwd=tmp_path, timeout=600, env=ELSEWHERE)
        assert result.returncode == 0, result.stderr
    page = (tmp_path / "html" / "kapitel-01" / "index.html").read_text(encoding="utf-8")
    assert 'name="section" value="qualitaetskultur"' in page
    # The German catalogue, compiled inside the new environment when the extension loaded.
    assert "Kommentieren" in page
    assert list(fresh_python.parent.parent.glob("lib/python*/site-packages/sphinx_handbook/locale/de/"
                                                "LC_MESSAGES/feedback.mo"))
    assert (tmp_path / "html" / "_static" / "feedback.js").is_file()
    assert (tmp_path / "html" / "_feedback" / "sections.json").is_file()
    [pdf] = (tmp_path / "pdf").glob("*.pdf")
    text = " ".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "Eigener Text von 1.1." in text
