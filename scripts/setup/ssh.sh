#!/usr/bin/env bash
# Installs what the SSH tests and benchmarks need: OpenSSH server and client (tests start their own
# sshd as a child on loopback), pssh (parallel-ssh, benchmark baseline), and a dedicated local user
# `casefile-test` with the known password `casefile-test-pw` for the password-authentication test.
# Idempotent: skips what is already there; `apt-get update` only when a package is missing.
set -euo pipefail

packages=(openssh-server openssh-client pssh)
missing=()
for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # --no-install-recommends: no ssh-import-id/xauth; policy-rc.d keeps the system sshd from starting.
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# sshd's privilege separation directory (no systemd here to create it).
mkdir -p /run/sshd

# The password test logs in as this user (never root with a password).
if ! id casefile-test >/dev/null 2>&1; then
    useradd --create-home --shell /bin/sh casefile-test
fi
echo 'casefile-test:casefile-test-pw' | chpasswd
