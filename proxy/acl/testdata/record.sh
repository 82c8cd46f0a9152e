#!/bin/bash
# usage: oracle.sh BIN PORT EXPRFILE [MODE]  -> prints "N<TAB>EXPR<TAB>RESULT"
# MODE req (default): http-request return lf-string "[%[EXPR]]"
# MODE res: a backend server answers; http-response set-header X-R "[%[EXPR]]"; prints X-R
BIN=$1; PORT=$2; F=$3; MODE=${4:-req}
D=$(mktemp -d)
SPORT=$((PORT+1))
cfghead() {
cat <<EOC
global
  setenv ORACLE_ENV hello
defaults
  mode http
  timeout client 5s
  timeout server 5s
  timeout connect 5s
listen f
  bind 127.0.0.1:$PORT name mybind id 7
  unique-id-format abc-%[str(x)]
  declare capture request len 32
  declare capture response len 32
  http-request capture req.hdr(host) len 20
  http-request set-var(txn.foo) str(foovalue)
  http-request set-var(req.num) int(42)
  http-request set-var(txn.p) path
  server srv1 127.0.0.1:$SPORT id 5
EOC
}
rule() { # n expr
  local esc=${2//\\/\\\\}; esc=${esc//\"/\\\"}
  if [ "$MODE" = res ]; then
    echo "  http-response set-header X-R \"[%[$esc]]\" if { var(txn.p) -m str /$1 }"
  else
    echo "  http-request return status 200 content-type text/plain lf-string \"[%[$esc]]\" if { path /$1 }"
  fi
}
n=0; ok=()
while IFS= read -r e; do
  n=$((n+1))
  { cfghead; rule $n "$e"; } > $D/one.cfg
  if out=$($BIN -c -f $D/one.cfg 2>&1); then ok[$n]=1; else ok[$n]=0; err[$n]=$(echo "$out" | grep -v NOTICE | grep ALERT | head -1 | sed 's/.*: config : //' | tr '\n' ' '); fi
done < "$F"
{ cfghead; n=0; while IFS= read -r e; do n=$((n+1)); [ "${ok[$n]}" = 1 ] && rule $n "$e"; done < "$F"; 
  if [ "$MODE" = res ]; then cat <<EOS
frontend srv
  bind 127.0.0.1:$SPORT
  http-request return status 200 content-type text/plain hdr X-S "a, b" hdr Set-Cookie "c=3; path=/" string "resbody"
EOS
  fi
} > $D/c.cfg
$BIN -f $D/c.cfg -db > $D/log 2>&1 &
pid=$!
sleep 0.7
n=0
while IFS= read -r e; do
  n=$((n+1))
  if [ "${ok[$n]}" != 1 ]; then printf '%s\t%s\tCFGERR %s\n' "$n" "$e" "${err[$n]}"; continue; fi
  if [ "$MODE" = res ]; then
    r=$(curl -s -m 2 -D - -o /dev/null -H 'X-Test: a, b' -H 'Cookie: a=1; b=2; a=3' -H 'Cookie: c=4' "http://127.0.0.1:$PORT/$n?x=1&y=2" | grep -i '^x-r:' | sed 's/^[^:]*: //' | tr -d '\r')
  else
    r=$(curl -s -m 2 -H 'X-Test: a, b' -H 'X-Num: 12' -H 'Cookie: a=1; b=2; a=3' -H 'Cookie: c=4' -H 'X-IP: 192.168.1.7' --data-binary 'p=1&q=two' "http://127.0.0.1:$PORT/$n?x=1&y=2" 2>&1 | tr '\n' '~')
  fi
  printf '%s\t%s\t%s\n' "$n" "$e" "$r"
done < "$F"
kill $pid 2>/dev/null; wait $pid 2>/dev/null
grep -v NOTICE $D/log | sed 's/^/#LOG /' | head -20
rm -rf $D
