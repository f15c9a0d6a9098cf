#!/usr/bin/env bash
# nanovpn build: dependencies, bundle, tun addon, unikernel image.
#
#   ./build.sh [STEP] [--tun]
#
#   STEP   all     (default) deps, bundle, addon, then the ops image and the raw image when their tools exist
#          bundle  deps + dist/nanovpn.js
#          addon   the addons dist/tun.node (tun uplink) and dist/aead.node (data-channel crypto)
#          image   deps, bundle, addon, and an ops image (needs `ops` on PATH)
#          raw     deps, bundle, addon, and a reproducible dist/nanovpn.img (needs NANOS_DIR)
#   --tun  build the image with the tun uplink: dist/config.tun.json (tun klib, tun manifest, dist/tun.node)
#
#   NANOS_DIR    a Nanos release folder (kernel.img, boot.img, klibs/, mkfs), e.g. ~/.ops/0.1.54
#   NANOVPN_TUN_ADDRESS / NANOVPN_TUN_NETMASK / NANOVPN_TUN_MTU   tun settings for --tun (10.8.0.1/24, 1500)
set -euo pipefail
cd "$(dirname "$0")"

STEP=all
TUN=0
for arg in "$@"; do
  case "$arg" in
    all|bundle|addon|image|raw) STEP="$arg" ;;
    --tun) TUN=1 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

n=0
step() { n=$((n + 1)); printf '\n==> [%d] %s\n' "$n" "$*"; }
info() { printf '    %s\n' "$*"; }
warn() { printf '    WARNING: %s\n' "$*" >&2; }
die() { printf '\nbuild.sh: %s\n' "$*" >&2; exit 1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

deps() {
  step "dependencies"
  if [ -x node_modules/.bin/esbuild ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
    info "node_modules is up to date with package-lock.json"
  else
    info "npm ci (pinned by package-lock.json)"
    npm ci --no-audit --no-fund
  fi
}

bundle() {
  step "bundle dist/nanovpn.js (esbuild, deterministic)"
  node image/build.mjs bundle --outdir dist | sed 's/^/    /'
}

# node-gyp ships inside npm; npm 11 does not run install scripts without approval, so build it here.
find_node_gyp() {
  if command -v node-gyp >/dev/null 2>&1; then echo "node-gyp"; return; fi
  local g
  g="$(npm root -g 2>/dev/null)/npm/node_modules/node-gyp/bin/node-gyp.js"
  if [ -f "$g" ]; then echo "node $g"; return; fi
  for d in /usr/lib/node_modules /usr/local/lib/node_modules; do
    if [ -f "$d/npm/node_modules/node-gyp/bin/node-gyp.js" ]; then echo "node $d/npm/node_modules/node-gyp/bin/node-gyp.js"; return; fi
  done
}

# One N-API addon from src/native/NAME into dist/NAME.node.
build_addon() {
  local name=$1 gyp=$2 nodedir=()
  rm -f "dist/$name.node"  # never ship an addon left over from older sources
  # Use the installed Node headers (no download) when they are there.
  if [ -f /usr/include/node/node_api.h ]; then nodedir=(--nodedir=/usr); fi
  if (cd "src/native/$name" && $gyp rebuild "${nodedir[@]}" >build.log 2>&1); then
    cp "src/native/$name/build/Release/$name.node" "dist/$name.node"
    info "dist/$name.node sha256 $(sha "dist/$name.node")"
  else
    warn "building the $name addon failed (log: src/native/$name/build.log)"
    tail -n 15 "src/native/$name/build.log" | sed 's/^/      /' >&2
    return 1
  fi
}

# tun.node: the tun uplink needs it. aead.node: faster data-channel crypto (data-crypto auto falls back without it).
addon() {
  step "addons dist/tun.node, dist/aead.node (node-gyp)"
  local gyp ok=0
  gyp="$(find_node_gyp)"
  if [ -z "$gyp" ]; then
    rm -f dist/tun.node dist/aead.node
    warn "node-gyp not found (it comes with npm); no tun uplink, and data-channel crypto uses node:crypto."
    return 1
  fi
  build_addon tun "$gyp" || ok=1
  build_addon aead "$gyp" || { warn "data-channel crypto will use node:crypto"; ok=1; }
  return $ok
}

config_file() {
  if [ "$TUN" = 1 ]; then
    node image/build.mjs ops-config --tun --in config.json --out dist/config.tun.json | sed 's/^/    /' >&2
    echo dist/config.tun.json
  else
    echo config.json
  fi
}

ops_image() {
  local required=$1
  step "ops image"
  if ! command -v ops >/dev/null 2>&1; then
    cat >&2 <<'EOF'
    ops is not installed. To build an image with ops:
        curl https://ops.city/get.sh -sSfL | sh      # installs ops into ~/.ops/bin
        export PATH="$HOME/.ops/bin:$PATH"
    Or build a reproducible raw image without ops: NANOS_DIR=<nanos release> ./build.sh raw
EOF
    if [ "$required" = 1 ]; then die "the image step needs ops"; fi
    info "skipped (ops not found)"
    return 0
  fi
  local cfg
  cfg="$(config_file)"
  info "ops image create -c $cfg -i nanovpn"
  ops image create -c "$cfg" -i nanovpn
  info "image written under ~/.ops/images/nanovpn; run it with: ops instance create nanovpn -c $cfg (or ops run)"
}

raw_image() {
  local required=$1
  step "reproducible raw image dist/nanovpn.img (Nanos mkfs)"
  if [ -z "${NANOS_DIR:-}" ]; then
    info "NANOS_DIR is not set: point it at a Nanos release folder (kernel.img, boot.img, klibs/, mkfs),"
    info "e.g. NANOS_DIR=~/.ops/<version> after 'ops update', or a nanos checkout's release/ + output/tools/bin/mkfs."
    if [ "$required" = 1 ]; then die "the raw step needs NANOS_DIR"; fi
    info "skipped"
    return 0
  fi
  NANOS_DIR="$(cd "$NANOS_DIR" && pwd)"
  local f
  for f in kernel.img boot.img mkfs klibs; do
    [ -e "$NANOS_DIR/$f" ] || die "NANOS_DIR=$NANOS_DIR has no $f"
  done
  command -v setarch >/dev/null 2>&1 || die "setarch (util-linux) is needed to run mkfs with ASLR off"
  local cfg
  cfg="$(config_file)"
  info "manifest from $cfg"
  node image/build.mjs manifest --config "$cfg" --nanos "$NANOS_DIR" --out dist/nanovpn.manifest --stage dist/image-stage \
    | sed 's/^/    /'
  # ASLR off and a manifest that names files relative to the stage folder: mkfs's layout then depends only on
  # the inputs (the filesystem UUIDs are fixed afterwards).
  info "mkfs"
  rm -f dist/nanovpn.img
  if ! (cd dist/image-stage && setarch x86_64 -R "$NANOS_DIR/mkfs" -b boot.img -k kernel.img ../nanovpn.img \
      <../nanovpn.manifest >../mkfs.log 2>&1); then
    tail -n 20 dist/mkfs.log >&2
    die "mkfs failed (full output: dist/mkfs.log)"
  fi
  node image/build.mjs fix-uuids --image dist/nanovpn.img --mkfs-log dist/mkfs.log | sed 's/^/    /'
  info "dist/nanovpn.img $(du -h dist/nanovpn.img | cut -f1) sha256 $(sha dist/nanovpn.img)"
}

case "$STEP" in
  bundle) deps; bundle ;;
  addon) mkdir -p dist; addon || exit 1 ;;
  image|raw|all)
    deps
    bundle
    addon || true
    [ -f dist/aead.node ] || die "the image maps dist/aead.node (config.json MapDirs) and its build failed: see src/native/aead/build.log"
    if [ "$TUN" = 1 ] && [ ! -f dist/tun.node ]; then die "--tun needs dist/tun.node"; fi
    case "$STEP" in
      image) ops_image 1 ;;
      raw) raw_image 1 ;;
      all) ops_image 0; raw_image 0 ;;
    esac
    ;;
esac
printf '\nbuild.sh: %s done\n' "$STEP"
