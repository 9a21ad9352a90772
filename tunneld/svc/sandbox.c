/* SPDX-License-Identifier: ISC */
/*
 * fz-tunneld's seccomp allow-list, installed once set up (TUN queues open,
 * sockets bound, capabilities reduced, workers started).  It stays uid 0
 * with CAP_NET_ADMIN and parses WireGuard packets from the network, so a
 * bug there should reach as few syscalls as possible: no mount, ptrace,
 * module, BPF, keyring, reboot or raw file-system changes beyond its own
 * socket and log files.
 *
 * Filters are inherited across fork and exec: in service mode fz-controld
 * runs under this list and its own, so everything it needs (before and
 * after its own filter) is allowed here too; its list is the stricter.
 */
#define LOG_MODULE "tunneld"

#include <errno.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "privsep.h"
#include "tunneld.h"

#define N(a)	(sizeof(a) / sizeof((a)[0]))

static void
allow(struct seccomp_list *l, const int *nr, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		seccomp_list_allow(l, nr[i]);
}

int
tunneld_sandbox(bool service, enum seccomp_default dflt)
{
	/*
	 * Both modes, beyond seccomp_list_allow_base: UAPI and front-end
	 * clients (accept4), libsodium freeing guarded keys (munlock) and
	 * allocating them (mlock), static mode's sigwait, and the rotated
	 * log directory (a new file, the "latest" link, pruning old files).
	 * The workers may still be starting when the filter is installed
	 * (it reaches every thread): a new thread registers its robust
	 * futex list first.  liburcu (peer and index tables, allowed IPs)
	 * synchronizes readers with membarrier and starts threads at run
	 * time: call_rcu's worker on first use and helpers for a large
	 * table resize (glibc tries clone3 first; its flags cannot be
	 * filtered, so neither is clone's).
	 */
	static const int common[] = {
		SYS_membarrier, SYS_clone, SYS_clone3,
		SYS_set_robust_list,
		SYS_accept4,
		SYS_mlock, SYS_munlock,
		SYS_rt_sigtimedwait,
		SYS_unlink, SYS_unlinkat, SYS_symlink, SYS_symlinkat,
		SYS_getdents64,
		/* static mode: DNS = given back at stop (etc-resolv-conf) */
		SYS_rename, SYS_renameat, SYS_renameat2, SYS_fchmod,
		SYS_fsync, SYS_fdatasync,
	};
	/*
	 * Service mode: the front-end socket's peer credentials, sd_notify
	 * (a datagram socket per message), rtnetlink sockets for routes as
	 * resources arrive, and fz-controld's own network needs (its filter
	 * is the narrower one; the two are intersected).
	 */
	static const int svc_sockets[] = {
		SYS_bind, SYS_connect, SYS_getsockname,
		SYS_getpeername, SYS_setsockopt, SYS_getsockopt,
		SYS_socketpair, SYS_readlink,
		SYS_sysinfo,	/* fz-controld: glibc's qsort (portal) */
		SYS_listen,	/* fz-controld: the gateway's DNS on :53535 */
		/* DNS control: resolv.conf rewritten, backed up, restored */
		SYS_rename, SYS_renameat, SYS_renameat2, SYS_fchmod,
		SYS_fsync, SYS_fdatasync,
	};
	/*
	 * Service mode: spawning fz-controld.  fork, fds, session, becoming
	 * its user (the proof tries to regain uid 0 and must get EPERM, not
	 * a kill), exec by descriptor, reap and kill.  Then what fz-controld
	 * does before its own filter: the dynamic loader, the capability
	 * proof, setrlimit, installing that filter.
	 */
	static const int svc_spawn[] = {
		SYS_wait4, SYS_kill, SYS_setsid, SYS_execveat,
		SYS_capset, SYS_setgroups, SYS_setresuid, SYS_setresgid,
		SYS_getresuid, SYS_getresgid, SYS_setuid, SYS_setgid,
		SYS_set_tid_address, SYS_arch_prctl,
		SYS_prlimit64, SYS_seccomp,
	};
	/* ... and only of these families (no AF_ALG, AF_VSOCK, AF_PACKET) */
	static const uint32_t svc_families[] = {
		AF_UNIX, AF_INET, AF_INET6, AF_NETLINK,
	};
	/*
	 * fz-controld's capability checks, no_new_privs and not dumpable;
	 * nothing else
	 */
	static const uint32_t svc_prctl[] = {
		PR_CAPBSET_READ, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT,
		PR_SET_DUMPABLE,
	};
	/*
	 * ioctl by request: FIONREAD only (libevent's reads in fz-controld).
	 * None of the TUN or interface requests (setup is over), never
	 * TIOCSTI.
	 */
	static const uint32_t ioctls[] = { FIONREAD };
	struct seccomp_list l;

	seccomp_list_init(&l);
	seccomp_list_allow_base(&l);
	seccomp_list_allow_arg(&l, SYS_ioctl, 1, ioctls, N(ioctls));
	allow(&l, common, N(common));
	if (service) {
		allow(&l, svc_sockets, N(svc_sockets));
		allow(&l, svc_spawn, N(svc_spawn));
		seccomp_list_allow_arg(&l, SYS_prctl, 0, svc_prctl,
		    N(svc_prctl));
		seccomp_list_allow_arg(&l, SYS_socket, 0, svc_families,
		    N(svc_families));
	}
	return seccomp_list_install(&l, dflt);
}
