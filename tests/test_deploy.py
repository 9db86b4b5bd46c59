"""The systemd units in deploy/ run commands the service understands, and the README installs them."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest

from feedback_service.cli import build_parser

from .conftest import ROOT

DEPLOY = ROOT / "deploy"
UNITS = sorted(DEPLOY.glob("*.service"))


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser


def command(path: Path) -> list[str]:
    """The arguments of ``python -m feedback_service`` in the unit's ExecStart."""
    words = shlex.split(unit(path)["Service"]["ExecStart"])
    assert words[1:3] == ["-m", "feedback_service"], words
    return words[3:]


@pytest.mark.parametrize("path", UNITS, ids=lambda path: path.name)
def test_every_unit_runs_a_command_the_service_accepts(path):
    build_parser().parse_args(command(path))


def test_the_sync_runs_for_good_and_wakes_on_approvals_instead_of_a_timer():
    sync = unit(DEPLOY / "feedback-sync.service")["Service"]
    args = build_parser().parse_args(command(DEPLOY / "feedback-sync.service"))
    assert args.command == "sync" and args.every is not None
    assert sync["Type"] != "oneshot" and sync["Restart"] == "always"
    # Stopped with SIGTERM, the sync ends like Ctrl-C with 130: that is no failure.
    assert "130" in sync["SuccessExitStatus"].split()
    assert not list(DEPLOY.glob("*.timer"))


def test_the_readme_installs_every_file_of_deploy_and_nothing_else():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in DEPLOY.iterdir():
        assert f"`{path.name}`" in readme, path.name
    assert ".timer" not in readme
