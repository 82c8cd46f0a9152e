package compat

// This file is the one place where halo says how far it executes each
// keepalived keyword. The tables in keepalived_tables.go and
// keepalived_vrrp.go only declare keywords and decoders; a test checks
// that every row has a status here and every status here has a row.
//
// "supported" means the vrrp runtime on main executes what the decoder
// fills in; update these lines when vrrp/ learns (or is found lacking) a
// feature.

type kaStatus struct {
	s    Status
	note string
}

var keepalivedStatus = buildKeepalivedStatus()

func buildKeepalivedStatus() map[string]kaStatus {
	m := map[string]kaStatus{}
	set := func(section string, s Status, note string, names ...string) {
		for _, n := range names {
			m[section+" "+n] = kaStatus{s, note}
		}
	}
	const (
		tuning = "process/kernel tuning halo does not need; accepted and ignored"
		noSNMP = "halo serves no SNMP/DBus interface; accepted and ignored"
		notRun = "accepted, not executed by halo's vrrp runtime"
		noBFD  = "no BFD in halo; accepted and ignored"
	)

	// top level
	set("keepalived", Supported, "", "global_defs", "vrrp_script", "vrrp_instance", "vrrp_sync_group")
	set("keepalived", Supported, "", "vrrp_track_file", "track_file")
	set("keepalived", Partial, "processes are found by scanning /proc every 0.2 s; keepalived is told by the kernel at once (and, in a network namespace other than the first, never)", "vrrp_track_process")
	set("keepalived", Ignored, noBFD, "bfd_instance")
	set("keepalived", Partial, "per-interface intervals are applied; spacing aggregated across the listed interfaces is not", "garp_group")
	set("keepalived", Ignored, notRun, "track_group", "linkbeat_interfaces", "interface_up_down_delays")
	set("keepalived", Supported, "", "static_ipaddress", "static_routes", "static_rules")
	set("keepalived", Unsupported, "network namespaces are not supported; halo runs in its own namespace", "net_namespace", "net_namespace_ipvs")
	set("keepalived", Ignored, tuning, "namespace_with_ipsets", "instance", "use_pid_dir", "linkbeat_use_polling", "child_wait_time")

	// global_defs
	set("global_defs", Supported, "", "router_id", "notification_email", "notification_email_from", "smtp_server",
		"smtp_connect_timeout", "smtp_alert", "smtp_alert_vrrp", "vrrp_mcast_group4", "vrrp_mcast_group6",
		"script_user", "enable_script_security", "vrrp_garp_master_delay", "vrrp_garp_master_repeat",
		"vrrp_garp_master_refresh", "vrrp_garp_master_refresh_repeat", "vrrp_garp_interval", "vrrp_gna_interval",
		"vrrp_version", "vrrp_strict", "vrrp_skip_check_adv_addr", "vrrp_notify_fifo", "vrrp_notify_fifo_script",
		"notify_fifo", "notify_fifo_script")
	set("global_defs", Ignored, "accepted; halo's runtime does not watch for interfaces appearing later", "dynamic_interfaces")
	set("global_defs", Ignored, "halo does not switch to realtime scheduling", "max_auto_priority")
	set("global_defs", Ignored, "no SMTP HELO override; halo uses the router_id", "smtp_helo_name")
	set("global_defs", Unsupported, "halo does not run startup/shutdown scripts", "startup_script", "shutdown_script")
	set("global_defs", Ignored, tuning, "tmp_config_directory", "config_save_dir", "process_names", "process_name",
		"vrrp_process_name", "checker_process_name", "bfd_process_name", "startup_script_timeout",
		"shutdown_script_timeout", "namespace_with_ipsets", "instance", "use_pid_dir", "linkbeat_use_polling",
		"child_wait_time", "umask", "random_seed", "reload_check_config", "reload_time_file", "reload_repeat",
		"reload_file", "include_check", "data_use_instance",
		"vrrp_priority", "vrrp_no_swap", "vrrp_cpu_affinity", "vrrp_rt_priority", "vrrp_rlimit_rttime",
		"checker_priority", "checker_no_swap", "checker_cpu_affinity", "checker_rt_priority", "checker_rlimit_rttime",
		"bfd_priority", "bfd_no_swap", "bfd_cpu_affinity", "bfd_rt_priority", "bfd_rlimit_rttime",
		"vrrp_netlink_cmd_rcv_bufs", "vrrp_netlink_cmd_rcv_bufs_force", "vrrp_netlink_monitor_rcv_bufs",
		"vrrp_netlink_monitor_rcv_bufs_force", "lvs_netlink_cmd_rcv_bufs", "lvs_netlink_cmd_rcv_bufs_force",
		"lvs_netlink_monitor_rcv_bufs", "lvs_netlink_monitor_rcv_bufs_force", "process_monitor_rcv_bufs",
		"process_monitor_rcv_bufs_force", "vrrp_rx_bufs_policy", "vrrp_rx_bufs_multiplier", "vrrp_startup_delay",
		"min_auto_priority_delay")
	set("global_defs", Unsupported, "network namespaces are not supported; halo runs in its own namespace", "net_namespace", "net_namespace_ipvs")
	set("global_defs", Ignored, noSNMP, "dbus_service_name", "enable_dbus", "snmp_socket", "enable_snmp_vrrp",
		"enable_snmp_checker", "enable_snmp_rfc", "enable_snmp_rfcv2", "enable_snmp_rfcv3", "enable_traps",
		"enable_snmp_keepalived")
	set("global_defs", Supported, "", "vrrp_min_garp", "vrrp_garp_lower_prio_delay", "vrrp_garp_lower_prio_repeat",
		"vrrp_down_timer_adverts", "vrrp_lower_prio_no_advert", "vrrp_higher_prio_send_advert")
	set("global_defs", Supported, "", "default_interface")
	set("global_defs", Supported, "", "vrrp_garp_extra_if", "vrrp_vmac_garp_intvl")
	set("global_defs", Ignored, notRun, "disable_local_igmp", "vrrp_check_unicast_src",
		"vrrp_notify_priority_changes", "fifo_write_vrrp_states_on_reload", "vmac_prefix", "vmac_addr_prefix",
		"no_email_faults", "log_unknown_vrids")
	set("global_defs", Supported, "", "nftables", "vrrp_iptables")
	set("global_defs", Ignored, "halo's no_accept chain has priority -1, no counters and no ipsets", "vrrp_ipsets", "nftables_priority", "nftables_ifindex", "nftables_counters")

	// vrrp_script
	set("vrrp_script", Supported, "", "script", "interval", "timeout", "weight", "rise", "fall", "user", "init_fail")

	// vrrp_instance and its blocks
	set("vrrp_instance", Supported, "", "state", "interface", "virtual_router_id", "priority", "advert_int", "version",
		"nopreempt", "preempt", "preempt_delay", "authentication", "virtual_ipaddress", "virtual_ipaddress_excluded",
		"virtual_routes", "unicast_peer", "unicast_src_ip", "mcast_src_ip", "unicast_ttl", "track_script",
		"track_interface", "track_file", "dont_track_primary", "notify_master", "notify_backup", "notify_fault",
		"notify_stop", "notify", "smtp_alert", "garp_master_delay", "garp_master_repeat", "garp_master_refresh",
		"garp_master_refresh_repeat", "accept", "native_ipv6")
	set("vrrp_instance", Supported, "", "no_accept")
	set("vrrp_instance", Supported, "", "use_vmac", "vmac_xmit_base", "garp_extra_if", "vmac_garp_intvl")
	set("vrrp_instance", Unsupported, "ipvlan interfaces and VMAC addresses on other interfaces are not made by halo", "use_vmac_addr", "use_ipvlan")
	set("vrrp_instance", Supported, "", "virtual_rules")
	set("vrrp_instance", Supported, "", "track_process")
	set("vrrp_instance", Ignored, noBFD, "track_bfd")
	set("vrrp_instance", Supported, "", "garp_lower_prio_delay", "garp_lower_prio_repeat", "down_timer_adverts",
		"lower_prio_no_advert", "higher_prio_send_advert")
	set("vrrp_instance", Ignored, notRun, "notify_deleted", "notify_master_rx_lower_pri", "notify_priority_changes",
		"garp_interval", "gna_interval", "debug",
		"strict_mode", "skip_check_adv_addr", "check_unicast_src", "kernel_rx_buf_size", "promote_secondaries", "linkbeat_use_polling",
		"unicast_fault_no_peer", "old_unicast_checksum", "track_src_ip")
	set("vrrp_instance", Unsupported, "VRFs are not supported", "vrf")
	set("vrrp_instance", Unsupported, "a per-instance multicast group is not supported; halo uses vrrp_mcast_group4/6", "mcast_dst_ip")
	set("authentication", Supported, "", "auth_type", "auth_pass")

	// vrrp_sync_group
	set("vrrp_sync_group", Supported, "", "group", "notify_master", "notify_backup", "notify_fault", "notify_stop",
		"notify", "smtp_alert", "track_script")
	set("vrrp_sync_group", Supported, "", "global_tracking", "sync_group_tracking_weight",
		"track_interface", "track_file", "track_process")
	set("vrrp_sync_group", Ignored, notRun, "notify_priority_changes")
	set("vrrp_sync_group", Ignored, noBFD, "track_bfd")

	set("vrrp_track_file", Supported, "", "file", "weight")
	set("vrrp_track_file", Partial, "the initial value is used while the file is missing; halo does not create the file", "init_file")
	set("vrrp_track_process", Supported, "", "process", "param_match", "weight", "quorum", "quorum_max",
		"fork_delay", "terminate_delay", "delay", "full_command")
	set("garp_group", Supported, "", "garp_interval", "gna_interval", "interface", "interfaces")
	set("bfd_instance", Ignored, noBFD, "source_ip", "neighbor_ip", "min_rx", "min_tx", "idle_tx", "multiplier",
		"passive", "ttl", "hoplimit", "max_hops", "weight", "vrrp", "checker")
	set("track_group", Ignored, notRun, "group")

	// LVS (keepalived_lvs.go)
	lvsStatuses(set)
	return m
}

// kaRemoved explains keywords keepalived 2.2 no longer (or never) knew,
// which it reports as unknown: halo says the same and adds why.
var kaRemoved = map[string]string{
	"global_defs lvs_id":             "lvs_id was renamed router_id in keepalived 1.2",
	"virtual_server nat_mask":        "nat_mask was removed in keepalived 2.0; it had no effect",
	"checker nb_get_retry":           "TCP_CHECK has no nb_get_retry in keepalived 2.x; use retry",
	"keepalived local_address_group": "local_address_group belongs to the FULLNAT keepalived fork, not to keepalived",
	"global_defs garp_master_delay":  "garp_master_delay belongs in vrrp_instance; global_defs has vrrp_garp_master_delay",
}
