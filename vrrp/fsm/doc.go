// Package fsm is the VRRP state machine of RFC 3768 (VRRPv2) and RFC 5798
// (VRRPv3) with Keepalived 2.2's choices, free of sockets, netlink and clocks.
//
// # Model
//
// An Engine holds every vrrp_instance and vrrp_sync_group of one Keepalived
// process. Events go in, each with the current time; an ordered list of
// Actions comes out, which the daemon performs in order:
//
//	eng, warnings, err := fsm.NewEngine(instances, groups) // log warnings at startup
//	acts := eng.Interface(now, "eth0", true)  // initial tracker states (no actions yet)
//	acts = eng.Start(now)                     // INIT -> BACKUP (init), timers armed
//	acts = eng.Receive(now, i, fsm.Advert{...}) // an advert that passed packet.Expect.Check
//	acts = eng.Fire(now, timer)               // a timer the engine armed has expired
//	acts = eng.Script(now, "chk_haproxy", ok) // vrrp_script result after rise/fall
//	acts = eng.Interface(now, "eth0", up)     // link state (own interface, track_interface)
//	acts = eng.File(now, "tf", value)         // track_file value
//	acts = eng.Stop(now)                      // SIGTERM: priority-0 adverts, VIPs off, notify STOP
//
// After a reload (SIGHUP), a new engine built from the new configuration
// starts with Resume(now, previous states by instance name) instead of
// Start: MASTERs and BACKUPs keep their state silently, as Keepalived does.
//
// Instances are addressed by index (Engine.Index maps a name). Actions:
//
//	ActSendAdvert   send an advert for Inst with Priority (0 when leaving MASTER)
//	ActAddVIPs      add Inst's virtual addresses/routes/rules
//	ActRemoveVIPs   remove them
//	ActSendGARP     Repeat rounds of gratuitous ARP / unsolicited NA for Inst's VIPs, now
//	ActNotify       notify scripts/SMTP/FIFO: instance (Group == -1) or sync group
//	ActLog          a log line in Keepalived's wording; Detail lines only with -D
//	ActSetTimer     (re)arm Timer for At; ActCancelTimer disarms it
//
// # Timers
//
// The engine never reads a clock. Each instance has a few timers (TimerKind);
// ActSetTimer carries a Timer value tagged with a generation. The daemon keeps
// one real timer per (Inst, Kind), replaces it on every ActSetTimer, stops it
// on ActCancelTimer, and on expiry calls Fire with the Timer it was armed
// with. A Timer whose generation is stale is ignored, so a timer that fires
// while an event is re-arming it does no harm. Tests drive the engine with a
// fake clock.
//
// # Keepalived semantics kept
//
//   - Every instance starts in BACKUP, even with `state MASTER`; election is
//     by the master down timer, 3 x advert_int + skew. Only the address
//     owner (priority 255) configured `state MASTER` takes over at once.
//   - Skew in Keepalived's integer microseconds: v2 (256-prio)/256 s, v3
//     ((256-prio) x Master_Adver_Interval)/256 on the effective priority;
//     VRRPv3 backups adopt the master's interval.
//   - A BACKUP discards a lower-priority advert (unless nopreempt or a
//     running preempt_delay) and so takes over when its down timer expires;
//     a priority-0 advert shortens the timer to the skew.
//   - A MASTER answers a lower-priority advert (or equal priority from a
//     lower address) with an advert at once; it yields to a higher priority
//     or to equal priority from a higher address.
//   - Leaving MASTER for FAULT or at Stop sends priority 0.
//   - Tracker weights move the effective priority (clamped 1..254, never for
//     the owner); weight 0 and the instance's own interface put it in FAULT.
//   - vrrp_sync_group members move together: FAULT spreads at once, MASTER
//     only when every member wants it, BACKUP follows a member that yields.
//   - nopreempt and preempt_delay are cleared under `state MASTER` with
//     Keepalived's warnings (NewEngine returns them).
//
// The requirement-to-test table is in fsm_test.go (TestRequirements).
// TestKeepalivedReplay replays runs of real Keepalived 2.2.7 (network
// namespace labs, logs in testdata/keepalived) and requires the same log
// lines in the same order.
//
// Log lines Keepalived prints from its daemon rather than its state machine
// ("Sending gratuitous ARP on eth0 for 10.77.0.100" per packet, script and
// netlink messages, "Stopping") are the daemon's to print.
package fsm
