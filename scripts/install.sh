#!/usr/bin/env bash
# Installs antemad and antemactl (release build), the systemd unit, a user and the default
# configuration. Run as root from the repository root. Idempotent: an existing
# /etc/antema/config.toml is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${PREFIX:-/usr/local}"
bash scripts/install-deps.sh
swift build -c release --product antemad
swift build -c release --product antemactl
install -d "$prefix/bin" "$prefix/share/doc/antema" "$prefix/share/antema/models"
install -m 0755 .build/release/antemad .build/release/antemactl "$prefix/bin/"
# the bundled segmentation model (found by the binaries in <prefix>/share/antema/models)
install -m 0644 Sources/DefaultModel/Resources/antema-unet*.onnx Sources/DefaultModel/Resources/antema-unet*.json "$prefix/share/antema/models/"
install -m 0644 README.md docs/*.md "$prefix/share/doc/antema/"
install -d -m 0755 /etc/antema
if [ ! -f /etc/antema/config.toml ]; then install -m 0644 config.example.toml /etc/antema/config.toml; fi
id antema >/dev/null 2>&1 || useradd --system --home-dir /var/lib/antema --shell /usr/sbin/nologin antema
install -m 0644 systemd/antemad.service /etc/systemd/system/antemad.service
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  echo "installed. Edit /etc/antema/config.toml (watch.roots), then: systemctl enable --now antemad"
else
  echo "installed (systemd is not running here: enable the unit where it is)."
fi
