#!/bin/bash
# netlab_matrix.sh HALO_BINARY [OUT]: runs ../shared/netlab scenarios with real keepalived, with
# halo on every node, and mixed pairs, and prints `scenario | impl | metric value` lines.
# Needs root; uses NETLAB_PREFIX (default hr). Takes ~20 minutes per REPEAT (the steady runs are 60 s each).
# Medians: awk -F' [|] ' '{print $1" | "$2" | "$3}' OUT | sort | ... (see the report).
set -u
HALO=${1:?usage: netlab_matrix.sh HALO_BINARY [OUT]}
OUT=${2:-/dev/stdout}
NETLAB=${NETLAB:-$(cd "$(dirname "$0")/../../.." && pwd)/shared/netlab/netlab}
[ -x "$NETLAB" ] || NETLAB=/work/shared/netlab/netlab
export NETLAB_PREFIX=${NETLAB_PREFIX:-hr}
H="$HALO keepalived -n -l -D -f {cfg} -p {dir}/ka.pid -r {dir}/vrrp.pid -c {dir}/chk.pid"
K="keepalived -n -l -D -f {cfg} -p {dir}/ka.pid -r {dir}/vrrp.pid -c {dir}/chk.pid"

run() { # label impl scenario args...
  local label=$1 impl=$2; shift 2
  # ONLY="label …" runs just those scenarios.
  [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $label "* ]] && return 0
  local n=2 a prev=""
  for a in "$@"; do [ "$prev" = --nodes ] && n=$a; prev=$a; done
  local cmds=()
  case $impl in
    keepalived) for i in $(seq 1 "$n"); do cmds+=(--node-cmd "$i=$K"); done ;;
    halo) for i in $(seq 1 "$n"); do cmds+=(--node-cmd "$i=$H"); done ;;
    halo-master) cmds=(--node-cmd "1=$H" --node-cmd "2=$K") ;;
    ka-master) cmds=(--node-cmd "1=$K" --node-cmd "2=$H") ;;
  esac
  "$NETLAB" scenario "$@" "${cmds[@]}" 2>&1 | awk -v l="$label" -v i="$impl" '/^metric/ {print l " | " i " | " $2 " " $3; fflush()}' >>"$OUT"
}
# keepalived and halo back to back per scenario, so both see the same machine load.
# REPEAT=N runs every pair N times (the lab machine is shared: take medians).
both() {
  local label=$1 r; shift
  for r in $(seq 1 "${REPEAT:-1}"); do run "$label" keepalived "$@"; run "$label" halo "$@"; done
}
both election election
both sigterm sigterm
both sigkill sigkill
both linkdown linkdown
both track track
both preempt preempt
both nopreempt preempt --nopreempt
both preempt-delay-2 preempt --preempt-delay 2
both splitbrain splitbrain
both garp garp
both sigterm-3n sigterm --nodes 3
both sigkill-3n sigkill --nodes 3
both sigterm-unicast sigterm --unicast
both v3-0.5-sigkill sigkill --version 3 --advert 0.5
for v in 2 3; do
  for cast in multicast unicast; do
    u=""; [ $cast = unicast ] && u=--unicast
    for impl in halo-master ka-master; do
      for r in $(seq 1 "${REPEAT:-1}"); do run "mixed-v$v-$cast-sigterm" $impl sigterm --version $v $u; done
      run "mixed-v$v-$cast-steady" $impl steady --version $v $u --steady "${STEADY:-60}"
    done
  done
done
