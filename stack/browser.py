"""A Chromium for the browser tests: the operating system's, never a browser downloaded by a test tool.

`find_chromium()` looks for it (CHROMIUM_PATH, then the usual names and the macOS application);
`ensure_chromium()` (`make test` runs it through `python -m stack browser`) installs Debian's
`chromium` package when none is found and apt-get can run without a password prompt (root, or
passwordless sudo). Otherwise it says how to install one; the browser tests then skip, saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
MACOS = Path("/Applications/Chromium.app/Contents/MacOS/Chromium")
# As the machine notes: without the background-networking flags a closed network refuses Chromium's
# many connections; no sandbox because tests may run as root (CI).
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str | None:
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        return configured if Path(configured).is_file() else None
    for name in NAMES:
        if found := shutil.which(name):
            return found
    return str(MACOS) if MACOS.is_file() else None


def _apt(*args: str) -> list[str] | None:
    if not shutil.which("apt-get"):
        return None
    if os.geteuid() == 0:
        return ["apt-get", *args]
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return ["sudo", "-n", "apt-get", *args]
    return None


def ensure_chromium() -> int:
    if found := find_chromium():
        print(f"browser tests use {found}")
        return 0
    update, install = _apt("update", "-qq"), _apt("install", "-y", "-qq", "chromium")
    if update and install:
        print("==> installing Debian's chromium for the browser tests (apt-get)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(update, check=False, env=env)
        if subprocess.run(install, env=env).returncode == 0 and find_chromium():
            return 0
    print(
        "warning: no Chromium found and none could be installed here; the browser tests will skip."
        " Install one (Debian/Ubuntu: apt-get install chromium; macOS: brew install --cask chromium)"
        " or set CHROMIUM_PATH."
    )
    return 0
