#!/usr/bin/env bash
# nanovpn build: dependencies, bundle, tun addon, unikernel image.
#
#   ./build.sh [STEP] [--tun]
#
#   STEP   all     (default) deps, bundle, addon, then the ops image and/or the raw image when their tools exist;
#                  without ops and NANOS_DIR it builds no image, says so, and still exits 0
#          bundle  deps + dist/nanovpn.js
#          addon   the addons dist/tun.node (tun uplink), dist/aead.node (data-channel crypto), dist/udp.node (UDP socket)
#          image   deps, bundle, addon, and an ops image (needs `ops` on PATH; fails without it)
#          raw     deps, bundle, addon, and a reproducible dist/nanovpn.img (needs NANOS_DIR; fails without it)
#   Every image needs image/etc/nanovpn/server.conf (`node dist/nanovpn.js config inline ...`, see image/DEPLOY.md).
#   --tun  build the image with the tun uplink: dist/config.tun.json (tun klib, tun manifest, dist/tun.node)
#
#   NANOS_DIR    a Nanos release folder (kernel.img, boot.img, klibs/) that also holds Nanos's mkfs tool; ops's
#                ~/.ops/<version>/ has no mkfs (Nanos release archives do not ship it)
#   NANOVPN_TUN_ADDRESS / NANOVPN_TUN_NETMASK / NANOVPN_TUN_MTU   tun settings for --tun (10.8.0.1/24, 1500)
set -euo pipefail
cd "$(dirname "$0")"

STEP=all
TUN=0
for arg in "$@"; do
  case "$arg" in
    all|bundle|addon|image|raw) STEP="$arg" ;;
    --tun) TUN=1 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
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
# udp.node: the UDP transport's socket, read and written in batches (the server falls back to node:dgram without it).
addon() {
  step "addons dist/tun.node, dist/aead.node, dist/udp.node (node-gyp)"
  local gyp ok=0
  gyp="$(find_node_gyp)"
  if [ -z "$gyp" ]; then
    rm -f dist/tun.node dist/aead.node dist/udp.node
    warn "node-gyp not found (it comes with npm); no tun uplink, data-channel crypto uses node:crypto, UDP uses node:dgram."
    return 1
  fi
  build_addon tun "$gyp" || ok=1
  build_addon aead "$gyp" || { warn "data-channel crypto will use node:crypto"; ok=1; }
  build_addon udp "$gyp" || { warn "the UDP transport will use node:dgram"; ok=1; }
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

OPS_HELP='ops is not on PATH. To build an image with ops:
        curl https://ops.city/get.sh -sSfL | sh      # installs ops into ~/.ops/bin
        export PATH="$HOME/.ops/bin:$PATH"
    or build a reproducible raw image without ops: NANOS_DIR=<nanos release> ./build.sh raw'
NANOS_HELP='NANOS_DIR is not set. Point it at a Nanos release folder (kernel.img, boot.img, klibs/, mkfs): a nanos
    checkout'"'"'s release/ + output/tools/bin/mkfs. ops'"'"'s ~/.ops/<version>/ has no mkfs; copy one in to use it.'
CONFIG_HELP='image/etc/nanovpn/server.conf is missing: the image would have no server config. Make one with
        mkdir -p image/etc/nanovpn
        node dist/nanovpn.js config inline YOUR/server.conf -o image/etc/nanovpn/server.conf
    (README, "Deploy as a unikernel", has every step)'

have_ops() { command -v ops >/dev/null 2>&1; }
have_nanos() { [ -n "${NANOS_DIR:-}" ]; }
have_config() { [ -f image/etc/nanovpn/server.conf ]; }

# config.json's Memory against the heap limit in its NODE_OPTIONS (image/build.mjs check-memory).
check_memory() {
  local cfg=$1
  node image/build.mjs check-memory --config "$cfg" | sed 's/^/    /' || die "fix Memory or NODE_OPTIONS in $cfg (see image/DEPLOY.md, Memory)"
}

# The image steps need their tool and a server config; fail before spending time on npm and node-gyp.
precheck() {
  case "$STEP" in
    image) have_ops || die "$OPS_HELP
build.sh: no image built: \`./build.sh image\` needs ops" ;;
    raw) have_nanos || die "$NANOS_HELP
build.sh: no image built: \`./build.sh raw\` needs NANOS_DIR" ;;
    *) return 0 ;;
  esac
  have_config || die "$CONFIG_HELP
build.sh: no image built: \`./build.sh $STEP\` needs image/etc/nanovpn/server.conf"
  check_memory config.json   # the --tun config inherits Memory and Env from it
}

BUILT=()

ops_image() {
  step "ops image"
  local cfg
  cfg="$(config_file)"
  info "ops image create -c $cfg -i nanovpn"
  ops image create -c "$cfg" -i nanovpn
  info "image written under ~/.ops/images/nanovpn; run it with: ops instance create nanovpn -c $cfg (or ops run)"
  BUILT+=("the ops image nanovpn (~/.ops/images/nanovpn)")
}

raw_image() {
  step "reproducible raw image dist/nanovpn.img (Nanos mkfs)"
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
  BUILT+=("dist/nanovpn.img")
}

precheck

case "$STEP" in
  bundle) deps; bundle ;;
  addon) mkdir -p dist; addon || exit 1 ;;
  image|raw|all)
    deps
    bundle
    addon || true
    [ -f dist/aead.node ] || die "the image maps dist/aead.node (config.json MapDirs) and its build failed: see src/native/aead/build.log"
    [ -f dist/udp.node ] || die "the image maps dist/udp.node (config.json MapDirs) and its build failed: see src/native/udp/build.log"
    if [ "$TUN" = 1 ] && [ ! -f dist/tun.node ]; then die "--tun needs dist/tun.node"; fi
    case "$STEP" in
      image) ops_image ;;
      raw) raw_image ;;
      all)
        if have_config; then
          if have_ops; then ops_image; fi
          if have_nanos; then raw_image; fi
        fi
        ;;
    esac
    ;;
esac

if [ "$STEP" = all ] && [ ${#BUILT[@]} -eq 0 ]; then
  # Say why, plainly: `all` without the tools is a bundle-only build, not a finished image.
  why=()
  have_ops || why+=("ops is not on PATH")
  have_nanos || why+=("NANOS_DIR is not set")
  have_config || why+=("image/etc/nanovpn/server.conf is missing")
  printf '\nbuild.sh: NO unikernel image was built (%s).\n' "$(IFS=';'; echo "${why[*]}" | sed 's/;/; /g')" >&2
  have_config || printf '    %s\n' "$CONFIG_HELP" >&2
  if ! have_ops && ! have_nanos; then printf '    %s\n    %s\n' "$OPS_HELP" "$NANOS_HELP" >&2; fi
  printf 'build.sh: built dist/nanovpn.js and the addons only; run ./build.sh image or ./build.sh raw once the above is fixed\n'
  exit 0
fi
if [ ${#BUILT[@]} -gt 0 ]; then
  printf '\nbuild.sh: %s done: built %s\n' "$STEP" "$(IFS=','; echo "${BUILT[*]}" | sed 's/,/ and /g')"
else
  printf '\nbuild.sh: %s done\n' "$STEP"
fi
