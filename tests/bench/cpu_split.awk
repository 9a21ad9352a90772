# SPDX-License-Identifier: ISC
#
# Classifies `perf script -F pid,ip,sym,dso` output (perf record -g) into
# where fz-tunneld's CPU goes.  Each sample: its leaf frame decides, and a
# kernel leaf that names no category is given the first category found
# among its callers (tun_get_user above ip_rcv: TUN).  Prints
# "CATEGORY SAMPLES" lines; -v side=PID keeps one process only; -v
# fzdso=NAME counts a binary not named fz-tunneld as fz.
function cat_leaf(s, d) {
	if (d ~ /libcrypto|libsodium/ || s ~ /chacha|poly1305|ChaCha|Poly1305/)
		return "crypto"
	if (d ~ /fz-tunneld/ || (fzdso != "" && index(d, "/" fzdso ")")))
		return "fz"
	if (d ~ /libc\.so|ld-linux/)
		return "libc"
	if (d !~ /kernel/)
		return "other"
	return kcat(s, 1)
}
function kcat(s, leaf) {
	if (leaf && s ~ /copy_user|copy_to_user|copy_from_user|_copy_to_iter|_copy_from_iter|rep_movs|memcpy|memmove|csum_partial|skb_copy|copy_page|csum_and_copy|memset|clear_user/)
		return "k_copy"
	if (leaf && s ~ /^entry_SYSCALL|^do_syscall|syscall_exit|syscall_enter|exit_to_user|^__x64_sys|^__do_sys|^ksys_|fdget|fput|__fget|^__sys_|^syscall_|^restore_|^__entry|_raw_spin_unlock_irqrestore|native_irq|irqentry/)
		return "k_syscall"
	if (s ~ /^tun_|^__tun|tun_get_user|tun_put_user|tun_chr|virtio_net_hdr|napi_gro|dev_gro|gro_receive|gro_complete|tun_net_xmit/)
		return "k_tun"
	if (s ~ /^tcp_|^__tcp|^tcp4|^tcp6|inet_csk/)
		return "k_inner"
	if (s ~ /udp|^ip_|^ip6_|^__ip|^ipv6|^inet_|skb_segment|gso|veth|netif|net_rx|__dev_queue|dev_hard|sch_direct|qdisc|nf_|neigh|fib_|dst_|^__netif|process_backlog|sock_|skb_|^sk_|csum|__skb|kfree_skb|consume_skb|alloc_skb|__alloc_skb|napi|___sys_sendmsg|___sys_recvmsg|__sys_sendmmsg|__sys_recvmmsg|recvmsg|sendmsg/)
		return "k_udp"
	if (s ~ /schedule|wake|ep_|epoll|futex|pick_next|finish_task|enqueue|dequeue|update_curr|sched|ttwu|select_task|idle|hrtimer|tick|switch_to|psi_|cpuacct|rcu_note|membarrier|do_nanosleep/)
		return "k_sched"
	if (s ~ /kmem_cache|kmalloc|kfree|page|slab|alloc_pages|__free|mem_cgroup|folio|mm_/)
		return "k_mm"
	return ""
}
/^ *[0-9]+ *$/ {
	if (inchain && (side == "" || pid == side))
		n[c == "" ? "k_other" : c]++
	pid = $1; inchain = 0; first = 1; c = ""; next
}
NF >= 2 {
	sym = $2
	dso = $NF
	if (first) {
		first = 0
		inchain = 1
		c = cat_leaf(sym, dso)
		pending = (c == "")
		next
	}
	if (pending && dso ~ /kernel/) {
		c = kcat(sym, 0)
		if (c != "")
			pending = 0
	}
}
END {
	if (inchain && (side == "" || pid == side))
		n[c == "" ? "k_other" : c]++
	for (k in n)
		print k, n[k]
}
