// Package health runs HAProxy's server health checks and drives the
// servers' state in package balance, logging each change in HAProxy's
// words ("Server app/web1 is DOWN, reason: Layer4 connection problem, info:
// \"Connection refused\", check duration: 0ms. …", "backend 'app' has no
// server available!").
//
// Checks: TCP connect, over TLS for `ssl` servers (layer 6); `option
// httpchk` in its old and `http-check send` forms with `http-check expect
// [!] status|rstatus|string|rstring` and `disable-on-404`; `option
// tcp-check` scripts (connect [port], send, send-binary, expect [!]
// string|rstring|binary) and `option redis-check`. Other check types
// (ssl-hello-chk, mysql-check, pgsql-check, smtpchk, ldap-check,
// agent-check) run as plain connect checks.
//
// The state machine (FSM) is pure: results in, transitions out, no clock
// and no sockets, so its table tests pin HAProxy's rise/fall arithmetic.
// Checker adds the timing (inter, fastinter, downinter, HAProxy's start
// spread, `timeout check`) and the probes.
package health
