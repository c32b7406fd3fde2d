#!/usr/bin/env bash
# Installs the Debian 12 packages smtpsd needs to build, run and test.
# Only what is missing is installed; safe to run again.
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build pkg-config git
  libboost1.81-dev libssl-dev libc-ares-dev libsodium-dev libsqlite3-dev libxxhash-dev
  libpq-dev libhiredis-dev libspdlog-dev libfmt-dev libtomlplusplus-dev
  libcli11-dev nlohmann-json3-dev libsystemd-dev libidn2-dev libjs-chart.js
  libunbound-dev dns-root-data  # DANE: DNSSEC validated in-process; the root trust anchor
  zlib1g-dev                    # gzip of TLS-RPT reports
)
test_pkgs=(
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-pytest python3-aiosmtpd python3-dkim python3-nacl python3-cryptography
  python3-dnspython swaks libnet-ssleay-perl libio-socket-ssl-perl libauthen-sasl-perl
  openssl dnsmasq-base postgresql redis-server procps strace curl
  chromium chromium-driver python3-selenium
  lintian adduser  # the package test (tests/integration/test_package.py)
  lld              # links the sanitizer build five times faster than GNU ld
  nsd ldnsutils    # a DNSSEC-signed test zone for DANE (tests/integration/test_outbound_tls.py)
)
fuzz_pkgs=(clang libclang-rt-14-dev llvm)  # libFuzzer: make fuzz (make test replays the corpora with GCC)
audit_pkgs=(testssl.sh)

want=("${build_pkgs[@]}")
case "${1:-build}" in
  build) ;;
  test) want+=("${test_pkgs[@]}") ;;
  deb) want+=(lintian) ;;
  fuzz) want+=("${test_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
  audit) want+=("${test_pkgs[@]}" "${audit_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|deb|fuzz|audit]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# policy-rc.d keeps postgresql/redis from being started as system services by the install.
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
