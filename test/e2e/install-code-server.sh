#!/usr/bin/env bash
# Installs code-server (a real VS Code: workbench, extension host, webviews) for the end-to-end
# tests, from the npm registry only. Its install builds native modules and would download
# ripgrep from GitHub; here it needs Debian's libkrb5-dev and ripgrep (the CI script installs
# them) and finds ripgrep in the cache @vscode/ripgrep's install looks in, filled from Debian's rg.
set -euo pipefail
cd "$(dirname "$0")"
if [ -x node_modules/.bin/code-server ]; then exit 0; fi
for need in /usr/bin/rg /usr/include/krb5.h; do
  [ -e "$need" ] || { echo "install-code-server: $need is missing: apt-get install ripgrep libkrb5-dev" >&2; exit 2; }
done
export TMPDIR="${TMPDIR:-/tmp}"
cache="$TMPDIR/vscode-ripgrep-cache-1.15.11"
archive="$cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
if [ ! -f "$archive" ]; then
  mkdir -p "$cache"
  staging=$(mktemp -d)
  cp /usr/bin/rg "$staging/rg"
  tar czf "$archive" -C "$staging" rg
  rm -rf "$staging"
fi
# unsafe-perm: the postinstall runs as root in CI; yes: node-pty's postinstall runs `npx node-gyp`.
npm_config_unsafe_perm=true npm_config_yes=true npm ci --no-audit --no-fund
