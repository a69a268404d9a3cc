#!/usr/bin/env bash
# Builds a Debian package of antemad and antemactl for a microscope PC without Swift:
# dist/antema_<version>_<arch>.deb. The binaries carry the Swift runtime statically; the
# package depends on the Debian libraries they load (computed by dpkg-shlibdeps).
# Installs to /usr, the unit to /usr/lib/systemd/system, /etc/antema/config.toml as a conffile;
# creates the user antema; `apt purge` keeps /var/lib/antema (the database).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
version="$(grep -o 'string = "[^"]*"' Sources/antemactl/Antemactl.swift | head -1 | cut -d'"' -f2)"
arch="$(dpkg --print-architecture)"
bin="$(bash scripts/build-release.sh)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
stage="$work/antema_${version}_$arch"
bash scripts/stage.sh "$bin" "$stage" /usr
# a package ships no site file: the drop-in is the administrator's (postinst creates it once)
install -m 0644 systemd/site.conf "$stage/usr/share/doc/antema/site.conf.example"
rm -rf "$stage/etc/systemd"
install -m 0644 LICENSE "$stage/usr/share/doc/antema/copyright" 2>/dev/null || \
  printf 'antema: see /usr/share/doc/antema/README.md. The bundled models are trained on the EMPS dataset (MIT licence).\n' > "$stage/usr/share/doc/antema/copyright"
# dependencies: what the binaries link, as Debian packages
mkdir -p "$work/debian"
printf 'Source: antema\n\nPackage: antema\nArchitecture: any\n' > "$work/debian/control"
depends="$(cd "$work" && dpkg-shlibdeps -O -e"$stage/usr/bin/antemad" -e"$stage/usr/bin/antemactl" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')"
size="$(du -sk "$stage" | cut -f1)"
install -d "$stage/DEBIAN"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: antema
Version: $version
Architecture: $arch
Maintainer: antema <antema@localhost>
Installed-Size: $size
Depends: $depends, fonts-dejavu-core, adduser
Section: science
Priority: optional
Description: nanoparticle size and shape from TEM micrographs, as a service
 antemad watches microscope export folders, segments every new Gatan DM3/DM4
 micrograph with a neural network, measures each particle (area, equivalent
 diameter, Feret diameters, perimeter, circularity, convexity), keeps the
 history in SQLite and writes xlsx/csv reports per sample. antemactl shows
 status, answers queries and analyses files on demand.
CONTROL
printf '/etc/antema/config.toml\n' > "$stage/DEBIAN/conffiles"
cat > "$stage/DEBIAN/postinst" <<'SCRIPT'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  getent passwd antema >/dev/null || adduser --system --group --home /var/lib/antema --shell /usr/sbin/nologin antema >/dev/null
  if [ ! -f /etc/systemd/system/antemad.service.d/site.conf ]; then
    mkdir -p /etc/systemd/system/antemad.service.d
    cp /usr/share/doc/antema/site.conf.example /etc/systemd/system/antemad.service.d/site.conf
  fi
  if [ -d /run/systemd/system ]; then systemctl daemon-reload; systemctl try-restart antemad.service || true; fi
fi
SCRIPT
cat > "$stage/DEBIAN/prerm" <<'SCRIPT'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then systemctl disable --now antemad.service >/dev/null 2>&1 || true; fi
SCRIPT
cat > "$stage/DEBIAN/postrm" <<'SCRIPT'
#!/bin/sh
set -e
if [ "$1" = purge ]; then rm -rf /etc/systemd/system/antemad.service.d; fi
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
SCRIPT
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"
mkdir -p dist
fakeroot dpkg-deb -Zgzip -z9 --build --root-owner-group "$stage" "dist/antema_${version}_$arch.deb" >&2
echo "dist/antema_${version}_$arch.deb"
