#!/bin/bash
# netlab_matrix.sh HALO_BINARY [OUT]: runs ../shared/netlab scenarios with real keepalived, with
# halo on every node, and mixed pairs, and prints `scenario | impl | metric value` lines.
# Needs root; uses NETLAB_PREFIX=hr. Takes ~15 minutes (the steady runs are 60 s each).
set -u
HALO=${1:?usage: netlab_matrix.sh HALO_BINARY [OUT]}
OUT=${2:-/dev/stdout}
NETLAB=${NETLAB:-$(cd "$(dirname "$0")/../../.." && pwd)/shared/netlab/netlab}
[ -x "$NETLAB" ] || NETLAB=/work/shared/netlab/netlab
export NETLAB_PREFIX=hr
H="$HALO keepalived -n -l -D -f {cfg} -p {dir}/ka.pid -r {dir}/vrrp.pid -c {dir}/chk.pid"
K="keepalived -n -l -D -f {cfg} -p {dir}/ka.pid -r {dir}/vrrp.pid -c {dir}/chk.pid"

run() { # label impl scenario args...
  local label=$1 impl=$2; shift 2
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
prev=""
for impl in keepalived halo; do
  run election $impl election
  run sigterm $impl sigterm
  run sigkill $impl sigkill
  run linkdown $impl linkdown
  run track $impl track
  run preempt $impl preempt
  run nopreempt $impl preempt --nopreempt
  run preempt-delay-2 $impl preempt --preempt-delay 2
  run splitbrain $impl splitbrain
  run garp $impl garp
  run sigterm-3n $impl sigterm --nodes 3
  run sigkill-3n $impl sigkill --nodes 3
  run sigterm-unicast $impl sigterm --unicast
  run v3-0.5-sigkill $impl sigkill --version 3 --advert 0.5
done
for impl in halo-master ka-master; do
  for v in 2 3; do
    for cast in multicast unicast; do
      u=""; [ $cast = unicast ] && u=--unicast
      run "mixed-v$v-$cast-sigterm" $impl sigterm --version $v $u
      run "mixed-v$v-$cast-steady" $impl steady --version $v $u --steady ${STEADY:-60}
    done
  done
done
