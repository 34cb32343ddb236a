#!/usr/bin/env bash
# Machine facts for reading the other figures: cores, CPU model, memory, kernel, and the filesystem
# of the current directory (and of SCRATCH, where the disk benchmarks write).
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

cpu_model="$(lscpu | awk -F': *' '/^Model name/ {print $2; exit}')"
mem_kib="$(awk '/^MemTotal/ {print $2}' /proc/meminfo)"
fs_cwd="$(findmnt -n -o FSTYPE,SOURCE -T "$PWD" | tr -s ' ' ',')"
fs_scratch="$(findmnt -n -o FSTYPE,SOURCE -T "$SCRATCH" | tr -s ' ' ',')"
load1="$(cut -d' ' -f1 /proc/loadavg)"

echo "cpu: $cpu_model" >&2
echo "kernel: $(uname -r); os: $(. /etc/os-release && echo "$PRETTY_NAME")" >&2
echo "filesystem of $PWD: $(findmnt -n -o FSTYPE,SOURCE,OPTIONS -T "$PWD")" >&2

key nproc "$(nproc)" cores
key cpu_model "\"${cpu_model//\"/}\"" text
key mem_total "$(awk -v k="$mem_kib" 'BEGIN {printf "%.1f", k/1048576}')" GiB
key kernel "$(uname -r)" text
key fs_cwd "$fs_cwd" text
key fs_scratch "$fs_scratch" text
key loadavg_1m "$load1" load
