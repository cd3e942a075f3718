#!/usr/bin/env bash
# Installs the third-party WebSocket peers used by the conformance and interop
# tests. Idempotent: safe to re-run, and a fast no-op once everything is there.
#
#   tests/peers/setup.sh                 every component
#   tests/peers/setup.sh COMPONENT...    only these: wstest py3 tinyproxy node
#
# Everything goes under tests/.cache/ (git-ignored) and tests/peers/node/node_modules/,
# except Debian packages installed with apt-get (tinyproxy, and any missing
# runtime library that the unpacked Python 2.7 needs).
#
# Components:
#   wstest     Autobahn|Testsuite 25.10.1 (Python 2.7 code) in a Python 2.7
#              virtualenv, on CPython 2.7.18 from Debian 11 (bullseye) packages
#              fetched with a private apt state and unpacked with `dpkg -x`
#              (nothing installed system-wide). Run it with tests/peers/wstest.
#   py3        Python 3 venv tests/.cache/py3 with websockets and hypercorn
#              (versions pinned in tests/peers/py3-requirements.txt).
#   tinyproxy  Debian's tinyproxy (apt-get install; its system service is left stopped).
#   node       `npm ci` in tests/peers/node (ws and its optional native masking, bufferutil, pinned by package-lock.json).
#
# Versions installed are written to tests/.cache/versions.txt.
#
# Environment: PYTHON3 (default python3), DEBIAN_MIRROR (default: the Debian
# mirror that /etc/apt/sources.list* already uses), SETUP_TIMEOUT (seconds per
# download/install command, default 900).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="$ROOT/tests/.cache"
PY3="${PYTHON3:-python3}"
T="${SETUP_TIMEOUT:-900}"
# Bump when the install recipe changes, to force a reinstall on existing caches.
RECIPE=1

mkdir -p "$CACHE/stamps" "$CACHE/versions"
export PIP_CACHE_DIR="$CACHE/pip-cache" PIP_DISABLE_PIP_VERSION_CHECK=1

# One setup at a time (two concurrent runs would trample each other's venvs).
exec 9>"$CACHE/.setup.lock"
if ! timeout "$T" flock 9; then
    echo "setup.sh: could not take $CACHE/.setup.lock within ${T}s" >&2
    exit 1
fi

log() { printf '    %s\n' "$*" >&2; }
die() { printf 'setup.sh: %s\n' "$*" >&2; exit 1; }
sha() { cat "$@" | sha256sum | cut -c1-16; }
# run LOG COMMAND...: runs an install command, niced (another build may be using
# the two cores) and bounded in time, with its output in tests/.cache/logs/LOG.log,
# shown only when it fails.
run() {
    local log="$CACHE/logs/$1.log" rc=0
    shift
    mkdir -p "$CACHE/logs"
    echo "+ $*" >>"$log"
    timeout --kill-after=10 "$T" nice -n 10 "$@" >>"$log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        printf 'setup.sh: failed (exit %s%s): %s\n--- last lines of %s:\n' "$rc" \
            "$([ "$rc" -eq 124 ] && echo ", timed out after ${T}s")" "$*" "$log" >&2
        tail -n 40 "$log" | sed 's/^/    /' >&2
        exit 1
    fi
}

stamp_ok() { [ -f "$CACHE/stamps/$1" ] && [ "$(cat "$CACHE/stamps/$1")" = "$2" ]; }
stamp_set() { printf '%s\n' "$2" >"$CACHE/stamps/$1"; }
stamp_clear() { rm -f "$CACHE/stamps/$1"; }

# --- system apt (only when something is missing) ---------------------------
APT_UPDATED=0
deb_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }
apt_install() {
    local missing=() p
    for p in "$@"; do deb_installed "$p" || missing+=("$p"); done
    [ "${#missing[@]}" -eq 0 ] && return 0
    log "apt-get install ${missing[*]}"
    if [ "$APT_UPDATED" -eq 0 ]; then
        run apt apt-get -o DPkg::Lock::Timeout=300 update
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive run apt apt-get -o DPkg::Lock::Timeout=300 install -y \
        --no-install-recommends "${missing[@]}"
}

# --- component: wstest -------------------------------------------------------
WS="$CACHE/wstest"
PY27_DEBS=(python2.7 python2.7-minimal libpython2.7-minimal libpython2.7-stdlib libpython2.7
    libpython2.7-dev python2.7-dev libssl1.1 libffi7)
# Bookworm libraries that the bullseye Python 2.7 links against (same sonames),
# plus the C compiler for the extensions that pip builds (Twisted, ujson, wsaccel, ...).
PY27_HOST_LIBS=(libbz2-1.0 libcrypt1 libdb5.3 libexpat1 libgdbm6 libncursesw6 libnsl2
    libreadline8 libsqlite3-0 libtinfo6 libtirpc3 zlib1g gcc libc6-dev)

# The Debian mirror the machine's own apt sources use (first non-security Debian
# suite with component main), e.g. http://deb.debian.org/debian.
debian_mirror() {
    if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
    "$PY3" - <<'EOF'
import glob, re
suite = re.compile(r'^(buster|bullseye|bookworm|trixie|forky|sid|stable|oldstable|oldoldstable|testing|unstable)(-updates|-backports|-proposed-updates)?$')
found = []
def consider(uris, suites, comps):
    if "main" in comps and any(suite.match(s) for s in suites):
        found.extend(u.rstrip("/") for u in uris)
files = sorted(glob.glob("/etc/apt/sources.list") + glob.glob("/etc/apt/sources.list.d/*.list"))
for f in files:
    try:
        lines = open(f).read().splitlines()
    except OSError:
        continue
    for line in lines:
        line = line.split("#", 1)[0].strip()
        line = re.sub(r"\[[^]]*\]", " ", line)
        w = line.split()
        if len(w) >= 4 and w[0] == "deb":
            consider([w[1]], [w[2]], w[3:])
for f in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    try:
        text = open(f).read()
    except OSError:
        continue
    for stanza in re.split(r"\n\s*\n", text):
        fields = {}
        key = None
        for line in stanza.splitlines():
            if line.startswith("#"):
                continue
            if line[:1] in (" ", "\t") and key:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, val = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = val.strip()
        if fields.get("enabled", "yes").lower() == "no" or "deb" not in fields.get("types", "").split():
            continue
        consider(fields.get("uris", "").split(), fields.get("suites", "").split(), fields.get("components", "").split())
print(found[0] if found else "http://deb.debian.org/debian")
EOF
}

wstest_installed_ok() {
    [ -x "$WS/venv/bin/python" ] && [ -x "$WS/venv/bin/wstest" ] &&
        LD_LIBRARY_PATH="$WS/root/usr/lib/x86_64-linux-gnu" "$WS/venv/bin/python" -c 'import autobahntestsuite' 2>/dev/null
}

install_wstest() {
    local key
    key="$RECIPE $(sha "$HERE/wstest-constraints.txt") ${PY27_DEBS[*]}"
    if stamp_ok wstest "$key" && wstest_installed_ok; then
        STATE=already
        return
    fi
    stamp_clear wstest
    apt_install "${PY27_HOST_LIBS[@]}"

    # 1. Python 2.7 .debs from bullseye, with a private apt state.
    local mirror keyring A opts
    mirror="$(debian_mirror)"
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    [ -f "$keyring" ] || die "no $keyring (package debian-archive-keyring)"
    A="$WS/apt"
    mkdir -p "$A/lists/partial" "$A/archives/partial" "$A/sources.list.d" "$A/preferences.d" "$WS/debs"
    : >"$A/status"
    echo "deb [signed-by=$keyring] $mirror bullseye main" >"$A/sources.list"
    log "apt (private state): bullseye main from $mirror"
    opts=(-o "Dir::Etc::SourceList=$A/sources.list" -o "Dir::Etc::SourceParts=$A/sources.list.d"
        -o "Dir::Etc::Preferences=$A/preferences" -o "Dir::Etc::PreferencesParts=$A/preferences.d"
        -o "Dir::State=$A" -o "Dir::State::Lists=$A/lists" -o "Dir::State::status=$A/status"
        -o "Dir::Cache=$A" -o "Dir::Cache::Archives=$A/archives"
        -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
        -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root"
        -o "APT::Architecture=amd64" -o "APT::Architectures=amd64" -o "Acquire::Languages=none"
        -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
        -o "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false"
        -o "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false"
        -o "Acquire::IndexTargets::deb::DEP-11-icons-hidpi::DefaultEnabled=false")
    run wstest apt-get "${opts[@]}" update
    rm -f "$WS/debs/"*.deb
    (cd "$WS/debs" && run wstest apt-get "${opts[@]}" download "${PY27_DEBS[@]}")
    rm -rf "$A/lists" # 20+ MB, not needed once the .debs are here

    # 2. Unpack (no system install).
    rm -rf "$WS/root.new" "$WS/root"
    mkdir -p "$WS/root.new"
    local d
    for d in "$WS/debs/"*.deb; do dpkg -x "$d" "$WS/root.new"; done
    mv "$WS/root.new" "$WS/root"
    local libdir="$WS/root/usr/lib/x86_64-linux-gnu"
    LD_LIBRARY_PATH="$libdir" "$WS/root/usr/bin/python2.7" -c 'import ssl, ctypes, zlib, hashlib' ||
        die "the unpacked python2.7 does not run"

    # 3. virtualenv 20.21.1 (the last one that makes Python 2.7 environments) in a Python 3 venv.
    if [ ! -x "$WS/tools/bin/virtualenv" ]; then
        rm -rf "$WS/tools"
        run wstest "$PY3" -m venv "$WS/tools"
        run wstest "$WS/tools/bin/pip" install --disable-pip-version-check virtualenv==20.21.1
    fi

    # 4. Python 2.7 virtualenv with autobahntestsuite.
    rm -rf "$WS/venv"
    (
        unset PYTHONPATH PYTHONHOME
        export LD_LIBRARY_PATH="$libdir"
        export VIRTUALENV_OVERRIDE_APP_DATA="$WS/virtualenv-appdata"
        export CFLAGS="-I$WS/root/usr/include/python2.7 -I$WS/root/usr/include"
        export PIP_NO_PYTHON_VERSION_WARNING=1
        run wstest "$WS/tools/bin/virtualenv" --no-periodic-update -p "$WS/root/usr/bin/python2.7" "$WS/venv"
        run wstest "$WS/venv/bin/pip" install -c "$HERE/wstest-constraints.txt" autobahntestsuite==25.10.1
    )
    wstest_installed_ok || die "autobahntestsuite does not import after install"

    {
        echo "wstest: autobahntestsuite $(LD_LIBRARY_PATH="$libdir" "$WS/venv/bin/python" -c 'import autobahntestsuite as a; print(a.__version__)')"
        echo "wstest: CPython $(LD_LIBRARY_PATH="$libdir" "$WS/venv/bin/python" -c 'import sys; print(sys.version.split()[0])')" \
            "(Debian bullseye python2.7 $(dpkg-deb -f "$WS/debs/"python2.7_*.deb Version), from $mirror)"
        echo "wstest: virtualenv 20.21.1"
        LD_LIBRARY_PATH="$libdir" PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_PYTHON_VERSION_WARNING=1 \
            "$WS/venv/bin/pip" freeze 2>/dev/null | grep -v '^-' | sed 's/^/wstest:   /'
    } >"$CACHE/versions/wstest.txt"
    stamp_set wstest "$key"
    STATE=installed
}

# --- component: py3 ----------------------------------------------------------
P3="$CACHE/py3"
install_py3() {
    local key
    key="$RECIPE $(sha "$HERE/py3-requirements.txt") $("$PY3" -c 'import sys; print(sys.version.split()[0])')"
    if stamp_ok py3 "$key" && [ -x "$P3/bin/python" ] && "$P3/bin/python" -c 'import websockets, hypercorn' 2>/dev/null; then
        STATE=already
        return
    fi
    stamp_clear py3
    rm -rf "$P3"
    run py3 "$PY3" -m venv "$P3"
    run py3 "$P3/bin/pip" install --disable-pip-version-check \
        -r "$HERE/py3-requirements.txt"
    "$P3/bin/python" -c 'import websockets, hypercorn' || die "py3 venv does not import websockets/hypercorn"
    {
        echo "py3: Python $("$P3/bin/python" -c 'import sys; print(sys.version.split()[0])')"
        "$P3/bin/pip" freeze --disable-pip-version-check | grep -v '^-' | sed 's/^/py3:   /'
    } >"$CACHE/versions/py3.txt"
    stamp_set py3 "$key"
    STATE=installed
}

# --- component: tinyproxy ----------------------------------------------------
install_tinyproxy() {
    if deb_installed tinyproxy && command -v tinyproxy >/dev/null; then
        STATE=already
    else
        apt_install tinyproxy
        # The tests start their own tinyproxy on 127.0.0.1: keep the system
        # service stopped and disabled if installing it started it.
        if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
            systemctl disable --now tinyproxy >/dev/null 2>&1 || true
        else
            if service tinyproxy status >/dev/null 2>&1; then
                service tinyproxy stop >/dev/null 2>&1 || true
            fi
            update-rc.d tinyproxy disable >/dev/null 2>&1 || true
        fi
        STATE=installed
    fi
    echo "tinyproxy: $(dpkg-query -W -f='${Version}' tinyproxy) (Debian)" >"$CACHE/versions/tinyproxy.txt"
}

# --- component: node ---------------------------------------------------------
NODE_DIR="$HERE/node"
install_node() {
    command -v npm >/dev/null || die "npm not found"
    local key stamp="$NODE_DIR/node_modules/.sockweave-stamp"
    key="$RECIPE $(sha "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json") $(node --version)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ]; then
        STATE=already
        return
    fi
    (cd "$NODE_DIR" && run node npm ci --no-audit --no-fund)
    {
        echo "node: $(node --version), npm $(npm --version 2>/dev/null)"
        # shellcheck disable=SC2016 # JavaScript, not shell
        (cd "$NODE_DIR" && node -e '
            const lock = require("./package-lock.json");
            for (const [p, v] of Object.entries(lock.packages || {}))
                if (p.startsWith("node_modules/")) console.log(`node:   ${p.slice(13)}@${v.version}`);')
    } >"$CACHE/versions/node.txt"
    printf '%s\n' "$key" >"$stamp"
    STATE=installed
}

# --- main ---------------------------------------------------------------------
ALL=(wstest py3 tinyproxy node)
if [ "$#" -gt 0 ]; then COMPONENTS=("$@"); else COMPONENTS=("${ALL[@]}"); fi
for c in "${COMPONENTS[@]}"; do
    [[ " ${ALL[*]} " == *" $c "* ]] || die "unknown component '$c' (one of: ${ALL[*]})"
done

rm -f "$CACHE/logs/apt.log"
for c in "${COMPONENTS[@]}"; do
    rm -f "$CACHE/logs/$c.log"
    t0=$(date +%s)
    STATE=""
    "install_$c"
    dt=$(($(date +%s) - t0))
    case "$c" in
        wstest) what="$(sed -n '1,2{s/^wstest: //;p}' "$CACHE/versions/wstest.txt" | paste -sd, | sed 's/,/, /')" ;;
        py3) what="$(grep -iE '^py3:   (websockets|hypercorn)==' "$CACHE/versions/py3.txt" | sed 's/^py3:   //' | paste -sd' ')" ;;
        tinyproxy) what="$(sed 's/^tinyproxy: //' "$CACHE/versions/tinyproxy.txt")" ;;
        node) what="$(grep -E '^node:   ws@' "$CACHE/versions/node.txt" | sed 's/^node:   //'), $(node --version)" ;;
    esac
    printf '%-10s %-17s %s [%ss]\n' "$c:" "ok ($STATE)" "$what" "$dt"
done
cat "$CACHE/versions/"*.txt >"$CACHE/versions.txt"
