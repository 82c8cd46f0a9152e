// Package health runs HAProxy 2.6's server checks and drives the
// servers' state in package balance, logging each change in HAProxy's
// words ("Server app/web1 is DOWN, reason: Layer4 connection problem,
// info: \"Connection refused\", check duration: 0ms. …", "Health check
// for server be1/srv succeeded, …, status: 1/1 UP.").
//
// # One engine, as src/tcpcheck.c
//
// Every check is a Ruleset: rules run in order by one engine (engine.go,
// HAProxy's tcpcheck_main): connect (port, addr, send-proxy, ssl, sni,
// alpn, linger), send (string, binary, log-format, an HTTP request),
// expect (string, rstring, binary, rbinary, string-lf, binary-lf with
// [!], min-recv, on-success/on-error, status-code, ok/error/tout-status;
// for HTTP checks status, rstatus, hdr/fhdr, body string/rstring), and
// set-var/unset-var over the check's own variables (check.*), whose
// samples and formats are package acl's and package logging's. Compile
// builds a backend's ruleset from the typed configuration as HAProxy
// does once its configuration is read: an implicit first connect, the
// implicit `http-check expect status 200-399`, comments attached to the
// rules that follow them, each chain of expect rules re-read from its
// first negated rule when more data comes.
//
// The protocol checks are pre-written rule lists on that engine
// (proto.go): redis-check, ssl-hello-chk (an SSLv3 CLIENT HELLO),
// smtpchk, pgsql-check, mysql-check (pre-4.1 and 4.1), ldap-check and
// spop-check (the SPOE HELLO), some with a custom expect function where
// HAProxy has one (MySQL packets, the LDAP bind response, the SPOE
// AGENT-HELLO, the agent's reply). The request bytes are HAProxy's, byte
// for byte.
//
// Connections follow HAProxy's: a check that sends nothing first lets the
// kernel delay the handshake's last ACK and ends with a reset, so a pure
// connect check never reaches the server's accept queue; check
// connections are closed with a reset unless `linger` asks otherwise.
//
// # Servers
//
// ServerChecks holds a server's health check and agent check (checker.go,
// HAProxy's check.c and the check parts of server.c): the health counter
// (rise/fall), the status and info shown by `show stat`, `option
// log-health-checks`, the state changes (srv_set_stopped/running/
// stopping) with their messages, `track` (trackers follow the tracked
// server, "via be/srv"), `observe` with on-error and error-limit, and the
// agent's words (up, down, stopped, fail, ready, drain, maint, weight %,
// maxconn:). Maintenance pauses the health check with its health at 0;
// leaving it restarts the check at rise (AdminChanged). The scheduling is
// HAProxy's: first checks spread over the smallest interval (max-spread-
// checks bounds it), inter/fastinter/downinter after each check,
// spread-checks jitter.
//
// The server state itself is package balance's, reached through the
// small Server interface.
package health
