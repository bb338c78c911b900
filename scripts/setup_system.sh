#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages ganstream needs (GStreamer, its Python bindings' build
# dependencies, ffmpeg for ffprobe, Chromium and its driver for the web view's browser test).
# Does nothing when all are present; uses sudo when not root.
set -euo pipefail
PKGS=(
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-rtsp
  gstreamer1.0-python3-plugin-loader
  gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 gir1.2-gst-rtsp-server-1.0 python3-gst-1.0
  libgirepository1.0-dev libcairo2-dev pkg-config gcc ffmpeg
  chromium chromium-driver
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "Installing system packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=300 update -q
$SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}"
