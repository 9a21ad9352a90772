/* SPDX-License-Identifier: ISC */
/*
 * fz-portald's sandbox: the same drop and proof as fz-controld's, with the
 * common privsep helpers, and the syscalls a running portal makes.
 */
#define LOG_MODULE "portald"

#include <errno.h>
#include <pwd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

int
pd_sandbox_drop(const char *user, bool required, bool *uid_dropped)
{
	struct rlimit nocore = { 0, 0 };
	uint64_t eff = ~0ULL, prm = ~0ULL, bnd = ~0ULL, amb = ~0ULL;
	bool root = getuid() == 0 || geteuid() == 0;
	int rc;

	*uid_dropped = false;
	/* No core dump of the tokens and device keys (nor a ptrace attach). */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)setrlimit(RLIMIT_CORE, &nocore);
	/*
	 * Started unprivileged (fz-portald.service: User=fz-portal with an
	 * ambient CAP_NET_BIND_SERVICE) the bounding set cannot be emptied
	 * without CAP_SETPCAP; what is left there is unreachable once the
	 * permitted set is empty under no_new_privs (proven below).
	 */
	if ((rc = privsep_caps_limit(0)) != 0 && (root ||
	    privsep_status_hex("CapBnd", &bnd) != 0 ||
	    (rc = privsep_caps_limit(bnd)) != 0)) {
		log_errorc(-rc, "cannot limit the capability bounding set; "
		    "refusing to run");
		return rc;
	}
	if (root && !required && getpwnam(user) == NULL) {
		log_warnx("user %s does not exist (fz-portald.sysusers): "
		    "keeping uid 0 without capabilities; pass --user", user);
	} else if (root) {
		if ((rc = privsep_drop_user(user, 0)) != 0) {
			log_errorc(-rc, "dropping to user %s", user);
			return rc;
		}
		*uid_dropped = true;
	}
	if ((rc = privsep_caps_set(0)) != 0) {
		log_errorc(-rc, "clearing capabilities");
		return rc;
	}
	if (privsep_status_hex("CapEff", &eff) != 0 ||
	    privsep_status_hex("CapPrm", &prm) != 0 ||
	    privsep_status_hex("CapBnd", &bnd) != 0 ||
	    privsep_status_hex("CapAmb", &amb) != 0 ||
	    eff != 0 || prm != 0 || (root && bnd != 0) || amb != 0 ||
	    (*uid_dropped && (getuid() == 0 || geteuid() == 0 ||
	    setuid(0) == 0))) {
		log_errorx("privilege drop not proven (uid %u, CapEff %llx, "
		    "CapPrm %llx, CapBnd %llx, CapAmb %llx); refusing to run",
		    (unsigned)getuid(), (unsigned long long)eff,
		    (unsigned long long)prm, (unsigned long long)bnd,
		    (unsigned long long)amb);
		return -EPERM;
	}
	if ((rc = privsep_no_new_privs()) != 0)
		return rc;
	/* the uid change resets it: again */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	return 0;
}

/*
 * The base set (I/O on held fds, the event loop, memory, time, signals,
 * exit, and opening files: the configuration is re-read on SIGHUP) plus
 * accepting on the listener, socket options and addresses, and what SQLite
 * does on its open database, WAL and shared-memory files (locks through
 * fcntl, fsync, truncation after a checkpoint, access and unlink of the
 * WAL).  No socket creation, connect, exec, fork, clone, ptrace, mount,
 * setuid, module or BPF calls.
 */
void
pd_sandbox_list(struct seccomp_list *l)
{
	static const int calls[] = {
		SYS_accept4, SYS_accept, SYS_getsockname, SYS_getpeername,
		SYS_setsockopt, SYS_getsockopt,
		SYS_fsync, SYS_fdatasync, SYS_ftruncate, SYS_unlinkat,
		SYS_faccessat, SYS_readlinkat, SYS_getcwd,
#ifdef SYS_faccessat2
		SYS_faccessat2,
#endif
#ifdef SYS_unlink
		SYS_unlink, SYS_readlink,
#endif
		/* glibc's qsort sizes its buffer by the memory installed */
		SYS_sysinfo,
	};
	/* libevent's evbuffer_read sizes reads with FIONREAD */
	static const uint32_t ioctls[] = { FIONREAD };
	size_t i;

	seccomp_list_init(l);
	seccomp_list_allow_base(l);
	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		seccomp_list_allow(l, calls[i]);
	seccomp_list_allow_arg(l, SYS_ioctl, 1, ioctls,
	    sizeof(ioctls) / sizeof(ioctls[0]));
}

int
pd_sandbox_seccomp(enum seccomp_default dflt)
{
	struct seccomp_list l;

	pd_sandbox_list(&l);
	return seccomp_list_install(&l, dflt);
}
