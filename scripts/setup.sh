#!/usr/bin/env bash
# Installs everything sharpeyes and its tests need, from Debian's packages and PyPI, into ./.venv.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  ffmpeg prometheus
  gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gi gir1.2-gstreamer-1.0
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly
  gstreamer1.0-plugins-bad gstreamer1.0-tools gstreamer1.0-libav
  chromium fonts-wqy-microhei   # headless screenshots of the HTML audit report, with a CJK font
  iproute2 nftables             # tests/reliability/test_netem.py: network namespace, veth, drops and loss, tbf
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages (install them as root): ${missing[*]}" >&2
  fi
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e ".[dev]"
# ipycam (third-party ONVIF camera for tests) depends on the GUI opencv, which would overwrite the headless one.
.venv/bin/pip install -q --disable-pip-version-check --no-deps "ipycam>=1.3,<2"
echo "setup: ok ($(.venv/bin/sharpeyes version))"
