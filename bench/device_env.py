"""What the GPU machine has, what the device script must carry, and an offline check that the two fit.

The device (an H100 80 GB or H200 141 GB lent for minutes, no network) runs python 3.12 with torch 2.11 and
transformers 5.17; the trainer needs transformers >= 5.18 (`mmprolong.train.compat`). 5.25 needs
huggingface-hub >= 2.4 (the device has 1.33), so the carried wheel is 5.24.0, whose requirements the device meets
(regex too, whose version there is not recorded: it is carried).
`check()` resolves the carried wheels' requirements against the device's packages without any network; the test
suite runs it, and `python bench/device_env.py download` fetches the wheels into .whl/ (git-ignored; the device
call names it in `carry`).

  python bench/device_env.py check       # offline: exit 1 and the unmet requirements if the carry plan is wrong
  python bench/device_env.py download    # once, with network to PyPI: the wheels into .whl/
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]

# The device image's packages, as read there (pip list, 2026-11): name -> version, None where only the name is known.
DEVICE_PYTHON = "3.12.3"
DEVICE_PACKAGES: dict[str, str | None] = {
    "torch": "2.11.0", "transformers": "5.17.0", "huggingface-hub": "1.33.0", "tokenizers": "0.23.2",
    "safetensors": "0.8.0", "numpy": "2.5.2", "tiktoken": "0.14.0", "accelerate": "1.15.0", "triton": "3.6.0",
    "sentencepiece": "0.2.2", "torchvision": "0.26.0",
    **{n: None for n in ("packaging", "pyyaml", "regex", "typer", "tqdm", "pillow", "pyarrow", "filelock",
                         "fsspec", "jinja2", "psutil", "rich", "requests", "pytest", "matplotlib", "pandas")},
}

# What the device call carries, with each wheel's Requires-Dist as published (read from its METADATA when the
# wheel is in .whl/, so a changed pin is noticed; recorded here for the offline check without the wheel).
CARRY: dict[str, list[str]] = {
    "transformers==5.24.0": [
        "huggingface-hub<3.0,>=1.31.0", "numpy>=1.17", "packaging>=20.0", "pyyaml>=5.1", "regex>=2025.10.22",
        "tokenizers<0.24.0,>=0.23.1", "typer", "safetensors>=0.8.0", "tqdm>=4.60"],
    # transformers 5.24 needs regex >= 2025.10.22; the device's regex version is not recorded, so it travels too
    "regex==2026.12.2": [],
}


def _marker_env() -> dict:
    env = default_environment()
    env.update(python_version=".".join(DEVICE_PYTHON.split(".")[:2]), python_full_version=DEVICE_PYTHON,
               sys_platform="linux", platform_system="Linux", platform_machine="x86_64", extra="")
    return env


def wheel_requires(pin: str, wheel_dir: Path) -> list[str]:
    """Requires-Dist of the carried wheel if it is in `wheel_dir`, else the recorded list."""
    import zipfile

    name, version = pin.split("==")
    for whl in wheel_dir.glob(f"{name.replace('-', '_')}-{version}-*.whl"):
        with zipfile.ZipFile(whl) as z:
            meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
            return [line.split(":", 1)[1].strip() for line in z.read(meta).decode().splitlines()
                    if line.startswith("Requires-Dist:")]
    return CARRY[pin]


def check(wheel_dir: Path = ROOT / ".whl") -> tuple[list[str], list[str]]:
    """(unmet, unverified): requirements of the carried wheels that the device + carried set does not meet, and
    those met by a package whose version on the device is not known (checked there at run time by
    `mmprolong.train.compat` and the env stage)."""
    have: dict[str, str | None] = {canonicalize_name(k): v for k, v in DEVICE_PACKAGES.items()}
    for pin in CARRY:
        name, version = pin.split("==")
        have[canonicalize_name(name)] = version
    env = _marker_env()
    unmet, unverified = [], []
    for pin in CARRY:
        for spec in wheel_requires(pin, wheel_dir):
            req = Requirement(spec)
            if req.marker is not None and not req.marker.evaluate(env):
                continue  # an extra's or another platform's requirement
            got = have.get(canonicalize_name(req.name), "absent")
            if got == "absent":
                unmet.append(f"{pin}: {spec} (not on the device, not carried)")
            elif got is None:
                if str(req.specifier):
                    unverified.append(f"{pin}: {spec} (on the device, version not recorded)")
            elif not req.specifier.contains(Version(got), prereleases=True):
                unmet.append(f"{pin}: {spec} (device has {got})")
    return unmet, unverified


def download(dest: Path = ROOT / ".whl") -> int:
    dest.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version",
           DEVICE_PYTHON.rsplit(".", 1)[0], "--implementation", "cp", "--platform", "manylinux_2_28_x86_64",
           "--platform", "manylinux2014_x86_64", "--platform", "any", "-d", str(dest), *CARRY]
    return subprocess.call(cmd)


def main(argv: list[str]) -> int:
    if argv[:1] == ["download"]:
        return download()
    unmet, unverified = check()
    for line in unverified:
        print("unverified:", line)
    for line in unmet:
        print("UNMET:", line)
    print("carry plan OK" if not unmet else "carry plan does not fit the device")
    return 1 if unmet else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
