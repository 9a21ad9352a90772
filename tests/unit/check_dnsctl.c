/* SPDX-License-Identifier: ISC */
/*
 * tunneld/net/dnsctl: the resolv.conf parser and writer; etc-resolv-conf
 * in a temporary directory (file, symlink, missing file, crash recovery,
 * a bind-mounted resolv.conf); systemd-resolved against a fake
 * org.freedesktop.resolve1 on a private dbus-daemon, which logs each call
 * with its arguments; a missing resolved and a missing bus.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>

#include "check_util.h"
#include "dnsctl.h"
#include "log.h"
#include "tunneld.h"

static char dir[] = "/tmp/fz-dnsctl.XXXXXX";
static char rconf[300], backup[300], calls[300];

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(log_init("check_dnsctl", LOG_FORMAT_TEXT, "error"),
	    0);
	snprintf(rconf, sizeof(rconf), "%s/resolv.conf", dir);
	snprintf(backup, sizeof(backup), "%s/resolv.conf.before-firezone",
	    dir);
	snprintf(calls, sizeof(calls), "%s/calls", dir);
}

static void
teardown(void)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(dir, "/tmp/fz-dnsctl.XXXXXX");
}

static void
put(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(s, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

/* The file's contents ("" when absent, or "<missing>"). */
static const char *
get(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return "<missing>";
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static bool
is_link(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

static const char *
fmt(const union fz_sockaddr *a)
{
	static char buf[ADDR_STRLEN];

	ck_assert_int_eq(addr_fmt(&a->sa, false, buf, sizeof(buf)), 0);
	return buf;
}

static struct dnsctl_servers
sentinels(void)
{
	struct dnsctl_servers s;

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(addr_parse("100.100.111.1", ADDR_PORT_NONE, &s.v[0]),
	    0);
	ck_assert_int_eq(addr_parse("fd00:2021:1111:8000:100:100:111:0",
	    ADDR_PORT_NONE, &s.v[1]), 0);
	s.n = 2;
	return s;
}

static struct dnsctl *
open_rc(void)
{
	struct dnsctl_config c = { .mode = DNSCTL_ETC_RESOLV_CONF,
	    .resolv_conf = rconf, .backup = backup };
	struct dnsctl *d;

	ck_assert_int_eq(dnsctl_new(&d, &c), 0);
	return d;
}

/* ---- parser / writer ---- */

static void
parse(const char *s, struct dnsctl_servers *out)
{
	dnsctl_parse_resolv_conf(s, strlen(s), out);
}

START_TEST(test_parse_basic)
{
	struct dnsctl_servers s;

	parse("# comment\n; other comment\nsearch a.example b.example\n"
	    "options edns0 trust-ad ndots:2\n"
	    "nameserver 192.0.2.1\n"
	    "\tnameserver\t2001:db8::53  \r\n"
	    "nameserver fe80::1%lo\n"
	    "nameserver fe80::2%7\n"
	    "domain x.example\n", &s);
	ck_assert_uint_eq(s.n, 4);
	ck_assert_str_eq(fmt(&s.v[0]), "192.0.2.1");
	ck_assert_str_eq(fmt(&s.v[1]), "2001:db8::53");
	ck_assert_int_eq(s.v[2].in6.sin6_family, AF_INET6);
	ck_assert_uint_eq(s.v[2].in6.sin6_scope_id, if_nametoindex("lo"));
	ck_assert_uint_eq(s.v[3].in6.sin6_scope_id, 7);
	ck_assert_uint_eq(addr_port(&s.v[0].sa), 0);
}
END_TEST

START_TEST(test_parse_garbage)
{
	static const char *const bad[] = {
		"nameserver\n", "nameserver \n", "nameserver 1.2.3\n",
		"nameserver 192.0.2.1:53\n", "nameserver1.2.3.4\n",
		"#nameserver 192.0.2.1\n", "nameserver 192.0.2.1#x\n",
		"nameserver fe80::1%\n", "nameserver fe80::1%nosuchif0\n",
		"nameserver 300.1.1.1\n", "nameserver ::1::2\n",
		"NAMESERVER 192.0.2.1\n", "nameserver [::1\n",
		"\x80\xff\xfe garbage \x01\x02\n", "",
	};
	struct dnsctl_servers s;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		parse(bad[i], &s);
		ck_assert_msg(s.n == 0, "accepted %zu: %s", i, bad[i]);
	}
	/* Trailing words after the address are ignored, as glibc does. */
	parse("nameserver 192.0.2.9 extra words\n", &s);
	ck_assert_uint_eq(s.n, 1);
	/* No final newline; NUL bytes split tokens but end nothing. */
	{
		static const char nul[] = "x\0y\nnameserver 192.0.2.7";

		dnsctl_parse_resolv_conf(nul, sizeof(nul) - 1, &s);
	}
	ck_assert_uint_eq(s.n, 1);
	ck_assert_str_eq(fmt(&s.v[0]), "192.0.2.7");
}
END_TEST

START_TEST(test_parse_long_and_many)
{
	struct dnsctl_servers s;
	size_t n = 200000, i;
	char *buf = malloc(n + 200);
	int off;

	ck_assert_ptr_nonnull(buf);
	/* A 200 kB line (a token far past any buffer), then a good line. */
	memcpy(buf, "nameserver ", 11);
	memset(buf + 11, '1', n);
	off = sprintf(buf + 11 + n, "\nnameserver 192.0.2.3\n");
	dnsctl_parse_resolv_conf(buf, 11 + n + (size_t)off, &s);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_str_eq(fmt(&s.v[0]), "192.0.2.3");
	/* A long word before "nameserver" on the line. */
	memset(buf, 'x', n);
	off = sprintf(buf + n, " nameserver 192.0.2.4\n");
	dnsctl_parse_resolv_conf(buf, n + (size_t)off, &s);
	ck_assert_uint_eq(s.n, 0);
	free(buf);
	/* More servers than fit: the first DNSCTL_MAX_SERVERS. */
	buf = malloc(64 * 40);
	ck_assert_ptr_nonnull(buf);
	for (i = 0, off = 0; i < 40; i++)
		off += sprintf(buf + off, "nameserver 192.0.2.%zu\n", i + 1);
	dnsctl_parse_resolv_conf(buf, (size_t)off, &s);
	ck_assert_uint_eq(s.n, DNSCTL_MAX_SERVERS);
	ck_assert_str_eq(fmt(&s.v[DNSCTL_MAX_SERVERS - 1]), "192.0.2.16");
	free(buf);
}
END_TEST

START_TEST(test_format)
{
	struct dnsctl_servers s = sentinels(), back;
	char buf[512];
	size_t len;

	ck_assert_int_eq(dnsctl_format_resolv_conf(&s, "corp.example", buf,
	    sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, strlen(buf));
	ck_assert_ptr_nonnull(strstr(buf, "\nnameserver 100.100.111.1\n"
	    "nameserver fd00:2021:1111:8000:100:100:111:0\n"
	    "search corp.example\n"));
	/* What we write parses back to what we wrote. */
	dnsctl_parse_resolv_conf(buf, len, &back);
	ck_assert_uint_eq(back.n, 2);
	ck_assert(addr_eq(&back.v[1].sa, &s.v[1].sa));
	ck_assert_int_eq(dnsctl_format_resolv_conf(&s, NULL, buf, 40, &len),
	    -ENOSPC);
	ck_assert_int_eq(dnsctl_format_resolv_conf(&s, "a b", buf,
	    sizeof(buf), &len), -EINVAL);
	ck_assert_int_eq(dnsctl_format_resolv_conf(&s, "x\nnameserver 1.1.1.1",
	    buf, sizeof(buf), &len), -EINVAL);
}
END_TEST

START_TEST(test_domain_and_sentinel)
{
	union fz_sockaddr a;
	char big[300];

	ck_assert(dnsctl_domain_ok("corp.example"));
	ck_assert(dnsctl_domain_ok("corp.example."));
	ck_assert(dnsctl_domain_ok("_srv.x-y.example"));
	ck_assert(!dnsctl_domain_ok(""));
	ck_assert(!dnsctl_domain_ok("."));
	ck_assert(!dnsctl_domain_ok("a..b"));
	ck_assert(!dnsctl_domain_ok("a b"));
	ck_assert(!dnsctl_domain_ok("~."));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert(!dnsctl_domain_ok(big));
	ck_assert_int_eq(addr_parse("100.100.111.9", ADDR_PORT_NONE, &a), 0);
	ck_assert(dnsctl_is_sentinel(&a.sa));
	ck_assert_int_eq(addr_parse("100.100.112.1", ADDR_PORT_NONE, &a), 0);
	ck_assert(!dnsctl_is_sentinel(&a.sa));
	ck_assert_int_eq(addr_parse("fd00:2021:1111:8000:100:100:111:ff",
	    ADDR_PORT_NONE, &a), 0);
	ck_assert(dnsctl_is_sentinel(&a.sa));
	ck_assert_int_eq(addr_parse("fd00:2021:1111:8000:100:100:112:0",
	    ADDR_PORT_NONE, &a), 0);
	ck_assert(!dnsctl_is_sentinel(&a.sa));
}
END_TEST

START_TEST(test_mode_parse)
{
	enum dnsctl_mode m;

	ck_assert_int_eq(dnsctl_mode_parse("systemd-resolved", &m), 0);
	ck_assert_int_eq(m, DNSCTL_SYSTEMD_RESOLVED);
	ck_assert_int_eq(dnsctl_mode_parse("etc-resolv-conf", &m), 0);
	ck_assert_int_eq(m, DNSCTL_ETC_RESOLV_CONF);
	ck_assert_int_eq(dnsctl_mode_parse("disabled", &m), 0);
	ck_assert_int_eq(m, DNSCTL_DISABLED);
	ck_assert_int_eq(dnsctl_mode_parse("resolvconf", &m), -EINVAL);
	ck_assert_str_eq(dnsctl_mode_name(DNSCTL_ETC_RESOLV_CONF),
	    "etc-resolv-conf");
}
END_TEST

/* ---- etc-resolv-conf ---- */

static const char orig[] = "nameserver 192.0.2.1\nsearch home.example\n";

START_TEST(test_rc_file)
{
	struct dnsctl_servers s = sentinels(), sys;
	struct dnsctl *d;
	struct stat st;

	put(rconf, orig);
	ck_assert_int_eq(chmod(rconf, 0640), 0);
	d = open_rc();
	ck_assert_int_eq(dnsctl_set(d, 5, &s, "corp.example"), 0);
	ck_assert_str_eq(get(backup), orig);
	ck_assert_int_eq(stat(backup, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0640);
	ck_assert_ptr_nonnull(strstr(get(rconf),
	    "nameserver 100.100.111.1\n"));
	ck_assert_ptr_nonnull(strstr(get(rconf), "search corp.example\n"));
	/* The system's servers come from the original, not our file. */
	ck_assert_int_eq(dnsctl_system_servers(d, &sys), 0);
	ck_assert_uint_eq(sys.n, 1);
	ck_assert_str_eq(fmt(&sys.v[0]), "192.0.2.1");
	/* A second set rewrites but keeps the first backup. */
	s.n = 1;
	ck_assert_int_eq(dnsctl_set(d, 5, &s, NULL), 0);
	ck_assert_str_eq(get(backup), orig);
	ck_assert_ptr_null(strstr(get(rconf), "search"));
	ck_assert_int_eq(dnsctl_revert(d), 0);
	ck_assert_str_eq(get(rconf), orig);
	ck_assert_str_eq(get(backup), "<missing>");
	ck_assert_int_eq(dnsctl_revert(d), 0);	/* twice: no-op */
	dnsctl_free(d);
	ck_assert_str_eq(get(rconf), orig);
}
END_TEST

START_TEST(test_rc_symlink)
{
	struct dnsctl_servers s = sentinels();
	char target[300], link[300];
	struct dnsctl *d;
	ssize_t n;

	snprintf(target, sizeof(target), "%s/stub-resolv.conf", dir);
	put(target, orig);
	ck_assert_int_eq(symlink("stub-resolv.conf", rconf), 0);
	d = open_rc();
	ck_assert_int_eq(dnsctl_set(d, 5, &s, NULL), 0);
	/* resolv.conf replaced (not written through), backup a symlink. */
	ck_assert(!is_link(rconf));
	ck_assert_str_eq(get(target), orig);
	ck_assert(is_link(backup));
	dnsctl_free(d);		/* reverts */
	ck_assert(is_link(rconf));
	n = readlink(rconf, link, sizeof(link) - 1);
	ck_assert_int_eq(n, 16);
	link[n] = '\0';
	ck_assert_str_eq(link, "stub-resolv.conf");
	ck_assert_str_eq(get(backup), "<missing>");
}
END_TEST

START_TEST(test_rc_missing_file)
{
	struct dnsctl_servers s = sentinels(), sys;
	struct dnsctl *d = open_rc();

	ck_assert_int_eq(dnsctl_system_servers(d, &sys), 0);
	ck_assert_uint_eq(sys.n, 0);
	ck_assert_int_eq(dnsctl_set(d, 5, &s, NULL), 0);
	ck_assert_str_eq(get(backup), "");
	ck_assert_int_eq(dnsctl_revert(d), 0);
	/* No file and an empty file mean the same to the libc resolver. */
	ck_assert_str_eq(get(rconf), "");
	dnsctl_free(d);
}
END_TEST

START_TEST(test_rc_crash_recovery)
{
	struct dnsctl_servers s = sentinels(), sys;
	struct dnsctl *d;
	pid_t pid;
	int st;

	put(rconf, orig);
	/* A run that sets and dies without reverting. */
	if ((pid = fork()) == 0) {
		d = open_rc();
		_exit(dnsctl_set(d, 5, &s, NULL) == 0 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(st, 0);
	ck_assert_str_ne(get(rconf), orig);
	ck_assert_str_eq(get(backup), orig);
	/* The next start restores it before anything else. */
	d = open_rc();
	ck_assert_str_eq(get(rconf), orig);
	ck_assert_str_eq(get(backup), "<missing>");
	ck_assert_int_eq(dnsctl_system_servers(d, &sys), 0);
	ck_assert_uint_eq(sys.n, 1);
	dnsctl_free(d);
}
END_TEST

/* resolv.conf as a mount point (ip netns exec, containers): in place. */
START_TEST(test_rc_bind_mounted)
{
	struct dnsctl_servers s = sentinels();
	char src[300];
	struct dnsctl *d;

	if (geteuid() != 0 || unshare(CLONE_NEWNS) != 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return;		/* needs root; covered by the others then */
	snprintf(src, sizeof(src), "%s/netns-resolv.conf", dir);
	put(src, orig);
	put(rconf, "");
	ck_assert_int_eq(mount(src, rconf, NULL, MS_BIND, NULL), 0);
	d = open_rc();
	ck_assert_int_eq(dnsctl_set(d, 5, &s, NULL), 0);
	ck_assert_ptr_nonnull(strstr(get(src), "nameserver 100.100.111.1"));
	ck_assert_str_eq(get(backup), orig);
	ck_assert_int_eq(dnsctl_revert(d), 0);
	ck_assert_str_eq(get(src), orig);
	ck_assert_str_eq(get(backup), "<missing>");
	dnsctl_free(d);
	ck_assert_int_eq(umount(rconf), 0);
}
END_TEST

START_TEST(test_disabled)
{
	struct dnsctl_config c = { .mode = DNSCTL_DISABLED,
	    .resolv_conf = rconf, .backup = backup };
	struct dnsctl_servers s = sentinels(), sys;
	struct dnsctl *d;

	put(rconf, "nameserver 100.100.111.1\nnameserver 192.0.2.8\n"
	    "nameserver 192.0.2.8\n");
	ck_assert_int_eq(dnsctl_new(&d, &c), 0);
	ck_assert_int_eq(dnsctl_set(d, 5, &s, NULL), 0);
	ck_assert_str_eq(get(backup), "<missing>");
	/* Sentinels and duplicates dropped. */
	ck_assert_int_eq(dnsctl_system_servers(d, &sys), 0);
	ck_assert_uint_eq(sys.n, 1);
	ck_assert_str_eq(fmt(&sys.v[0]), "192.0.2.8");
	dnsctl_free(d);
	ck_assert_str_eq(get(backup), "<missing>");
}
END_TEST

START_TEST(test_set_invalid)
{
	struct dnsctl_servers s = sentinels(), none;
	struct dnsctl *d = open_rc();

	memset(&none, 0, sizeof(none));
	ck_assert_int_eq(dnsctl_set(d, 5, &none, NULL), -EINVAL);
	ck_assert_int_eq(dnsctl_set(d, 0, &s, NULL), -EINVAL);
	ck_assert_int_eq(dnsctl_set(d, 5, &s, "bad domain"), -EINVAL);
	ck_assert_str_ne(dnsctl_error(d), "");
	ck_assert_str_eq(get(backup), "<missing>");
	dnsctl_free(d);
}
END_TEST

/* ---- systemd-resolved, against a fake on a private bus ---- */

static char bus_addr[600];
static pid_t bus_pid, fake_pid;

static void
record(const char *line)
{
	int fd = open(calls, O_WRONLY | O_APPEND | O_CREAT, 0600);

	if (fd >= 0) {
		if (write(fd, line, strlen(line)) < 0)
			_exit(3);
		close(fd);
	}
}

static int
f_set_dns(sd_bus_message *m, void *ud, sd_bus_error *e)
{
	char line[1024], host[INET6_ADDRSTRLEN];
	const void *p;
	size_t n, off;
	int ifi, fam, rc;

	if (sd_bus_message_read(m, "i", &ifi) < 0 ||
	    sd_bus_message_enter_container(m, 'a', "(iay)") < 0)
		return -EINVAL;
	off = (size_t)snprintf(line, sizeof(line), "SetLinkDNS %d", ifi);
	while ((rc = sd_bus_message_enter_container(m, 'r', "iay")) > 0) {
		if (sd_bus_message_read(m, "i", &fam) < 0 ||
		    sd_bus_message_read_array(m, 'y', &p, &n) < 0 ||
		    sd_bus_message_exit_container(m) < 0 ||
		    n != (fam == AF_INET ? 4u : 16u) ||
		    inet_ntop(fam, p, host, sizeof(host)) == NULL)
			return -EINVAL;
		off += (size_t)snprintf(line + off, sizeof(line) - off,
		    " %d:%s", fam, host);
	}
	snprintf(line + off, sizeof(line) - off, "\n");
	record(line);
	return sd_bus_reply_method_return(m, NULL);
}

static int
f_set_domains(sd_bus_message *m, void *ud, sd_bus_error *e)
{
	char line[1024];
	const char *name;
	size_t off;
	int ifi, route;

	if (sd_bus_message_read(m, "i", &ifi) < 0 ||
	    sd_bus_message_enter_container(m, 'a', "(sb)") < 0)
		return -EINVAL;
	off = (size_t)snprintf(line, sizeof(line), "SetLinkDomains %d", ifi);
	while (sd_bus_message_read(m, "(sb)", &name, &route) > 0)
		off += (size_t)snprintf(line + off, sizeof(line) - off,
		    " %s:%d", name, route);
	snprintf(line + off, sizeof(line) - off, "\n");
	record(line);
	return sd_bus_reply_method_return(m, NULL);
}

static int
f_default_route(sd_bus_message *m, void *ud, sd_bus_error *e)
{
	char line[64];
	int ifi, b;

	if (sd_bus_message_read(m, "ib", &ifi, &b) < 0)
		return -EINVAL;
	snprintf(line, sizeof(line), "SetLinkDefaultRoute %d %d\n", ifi, b);
	record(line);
	return sd_bus_reply_method_return(m, NULL);
}

static int
f_llmnr(sd_bus_message *m, void *ud, sd_bus_error *e)
{
	char line[64];
	const char *v;
	int ifi;

	if (sd_bus_message_read(m, "is", &ifi, &v) < 0)
		return -EINVAL;
	snprintf(line, sizeof(line), "SetLinkLLMNR %d %s\n", ifi, v);
	record(line);
	return sd_bus_reply_method_return(m, NULL);
}

static int
f_flush(sd_bus_message *m, void *ud, sd_bus_error *e)
{
	record("FlushCaches\n");
	return sd_bus_reply_method_return(m, NULL);
}

static int
f_revert(sd_bus_message *m, void *ud, sd_bus_error *e)
{
	char line[64];
	int ifi;

	if (sd_bus_message_read(m, "i", &ifi) < 0)
		return -EINVAL;
	if (ifi == 99)
		return sd_bus_error_set(e,
		    "org.freedesktop.resolve1.NoSuchLink", "Link 99 not known");
	if (ifi == 98)
		return sd_bus_error_set(e, SD_BUS_ERROR_ACCESS_DENIED,
		    "Access denied");
	snprintf(line, sizeof(line), "RevertLink %d\n", ifi);
	record(line);
	return sd_bus_reply_method_return(m, NULL);
}

static int
f_get_dns(sd_bus *bus, const char *path, const char *iface,
    const char *prop, sd_bus_message *reply, void *ud, sd_bus_error *e)
{
	static const struct { int ifi, fam; const char *a; } v[] = {
		{ 0, AF_INET, "192.0.2.53" },
		{ 7, AF_INET, "198.51.100.7" },		/* our link */
		{ 3, AF_INET6, "fe80::1" },
		{ 0, AF_INET, "100.100.111.2" },	/* a sentinel */
		{ 2, AF_INET, "192.0.2.53" },		/* a duplicate */
		{ 0, AF_INET6, "2001:db8::35" },
	};
	uint8_t b[16];
	size_t i;
	int rc;

	if ((rc = sd_bus_message_open_container(reply, 'a', "(iiay)")) < 0)
		return rc;
	for (i = 0; i < sizeof(v) / sizeof(*v); i++) {
		if (inet_pton(v[i].fam, v[i].a, b) != 1 ||
		    (rc = sd_bus_message_open_container(reply, 'r',
		    "iiay")) < 0 ||
		    (rc = sd_bus_message_append(reply, "ii", v[i].ifi,
		    v[i].fam)) < 0 ||
		    (rc = sd_bus_message_append_array(reply, 'y', b,
		    v[i].fam == AF_INET ? 4 : 16)) < 0 ||
		    (rc = sd_bus_message_close_container(reply)) < 0)
			return rc < 0 ? rc : -EINVAL;
	}
	return sd_bus_message_close_container(reply);
}

static const sd_bus_vtable fake_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("SetLinkDNS", "ia(iay)", "", f_set_dns, 0),
	SD_BUS_METHOD("SetLinkDomains", "ia(sb)", "", f_set_domains, 0),
	SD_BUS_METHOD("SetLinkDefaultRoute", "ib", "", f_default_route, 0),
	SD_BUS_METHOD("SetLinkLLMNR", "is", "", f_llmnr, 0),
	SD_BUS_METHOD("FlushCaches", "", "", f_flush, 0),
	SD_BUS_METHOD("RevertLink", "i", "", f_revert, 0),
	SD_BUS_PROPERTY("DNS", "a(iiay)", f_get_dns, 0, 0),
	SD_BUS_VTABLE_END
};

static void
fake_resolved(int ready)
{
	sd_bus *bus = NULL;

	if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, bus_addr) < 0 ||
	    sd_bus_set_bus_client(bus, 1) < 0 || sd_bus_start(bus) < 0 ||
	    sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/resolve1",
	    "org.freedesktop.resolve1.Manager", fake_vtable, NULL) < 0 ||
	    sd_bus_request_name(bus, "org.freedesktop.resolve1", 0) < 0)
		_exit(2);
	if (write(ready, "r", 1) != 1)
		_exit(2);
	close(ready);
	for (;;) {
		int rc = sd_bus_process(bus, NULL);

		if (rc < 0)
			_exit(0);
		if (rc == 0 && sd_bus_wait(bus, UINT64_MAX) < 0)
			_exit(0);
	}
}

static void
start_bus(void)
{
	char line[600];
	FILE *p;

	/* Our own dbus-daemon: the address, then its pid. */
	p = popen("dbus-daemon --session --print-address=1 --print-pid=1 "
	    "--fork", "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), p));
	line[strcspn(line, "\n")] = '\0';
	snprintf(bus_addr, sizeof(bus_addr), "%s", line);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), p));
	bus_pid = (pid_t)atoi(line);
	pclose(p);
	ck_assert_int_gt(bus_pid, 1);
}

static void
setup_bus(void)
{
	setup();
	start_bus();
	fake_pid = 0;
}

static void
setup_fake(void)
{
	int pfd[2];
	char c;

	setup_bus();
	ck_assert_int_eq(pipe(pfd), 0);
	if ((fake_pid = fork()) == 0) {
		/* Check's SIGTERM handler (inherited) would kill our group. */
		signal(SIGTERM, SIG_DFL);
		close(pfd[0]);
		fake_resolved(pfd[1]);
	}
	ck_assert_int_gt(fake_pid, 0);
	close(pfd[1]);
	ck_assert_int_eq(read(pfd[0], &c, 1), 1);	/* name acquired */
	close(pfd[0]);
}

static void
teardown_bus(void)
{
	if (fake_pid > 0) {
		kill(fake_pid, SIGTERM);
		waitpid(fake_pid, NULL, 0);
	}
	if (bus_pid > 1)
		kill(bus_pid, SIGTERM);
	teardown();
}

static struct dnsctl *
open_rd(void)
{
	struct dnsctl_config c = { .mode = DNSCTL_SYSTEMD_RESOLVED,
	    .resolv_conf = rconf, .backup = backup, .bus_address = bus_addr };
	struct dnsctl *d;

	ck_assert_int_eq(dnsctl_new(&d, &c), 0);
	return d;
}

START_TEST(test_rd_set_revert)
{
	struct dnsctl_servers s = sentinels();
	struct dnsctl *d = open_rd();

	ck_assert_int_eq(dnsctl_set(d, 7, &s, NULL), 0);
	ck_assert_str_eq(get(calls),
	    "SetLinkDNS 7 2:100.100.111.1 "
	    "10:fd00:2021:1111:8000:100:100:111:0\n"
	    "SetLinkDomains 7 .:1\n"
	    "SetLinkDefaultRoute 7 1\n"
	    "SetLinkLLMNR 7 yes\n"
	    "FlushCaches\n");
	ck_assert_int_eq(unlink(calls), 0);
	/* A search domain is a search domain, not routing-only. */
	s.n = 1;
	ck_assert_int_eq(dnsctl_set(d, 7, &s, "corp.example"), 0);
	ck_assert_str_eq(get(calls),
	    "SetLinkDNS 7 2:100.100.111.1\n"
	    "SetLinkDomains 7 corp.example:0\n"
	    "SetLinkDefaultRoute 7 1\n"
	    "SetLinkLLMNR 7 yes\n"
	    "FlushCaches\n");
	ck_assert_int_eq(unlink(calls), 0);
	/* The TUN came back under another index: the old link reverted. */
	ck_assert_int_eq(dnsctl_set(d, 8, &s, NULL), 0);
	ck_assert_ptr_nonnull(strstr(get(calls), "RevertLink 7\nFlushCaches\n"
	    "SetLinkDNS 8 2:100.100.111.1\n"));
	ck_assert_int_eq(unlink(calls), 0);
	ck_assert_int_eq(dnsctl_revert(d), 0);
	ck_assert_str_eq(get(calls), "RevertLink 8\nFlushCaches\n");
	ck_assert_int_eq(unlink(calls), 0);
	dnsctl_free(d);		/* nothing left to revert */
	ck_assert_str_eq(get(calls), "<missing>");
	/* Nothing touched the file backend's paths. */
	ck_assert_str_eq(get(backup), "<missing>");
}
END_TEST

START_TEST(test_rd_free_reverts)
{
	struct dnsctl_servers s = sentinels();
	struct dnsctl *d = open_rd();

	ck_assert_int_eq(dnsctl_set(d, 12, &s, NULL), 0);
	ck_assert_int_eq(unlink(calls), 0);
	dnsctl_free(d);
	ck_assert_str_eq(get(calls), "RevertLink 12\nFlushCaches\n");
}
END_TEST

START_TEST(test_rd_system_servers)
{
	struct dnsctl_servers s = sentinels(), sys;
	struct dnsctl *d = open_rd();

	ck_assert_int_eq(dnsctl_set(d, 7, &s, NULL), 0);
	ck_assert_int_eq(dnsctl_system_servers(d, &sys), 0);
	ck_assert_uint_eq(sys.n, 3);
	ck_assert_str_eq(fmt(&sys.v[0]), "192.0.2.53");
	ck_assert_int_eq(sys.v[1].sa.sa_family, AF_INET6);
	ck_assert_uint_eq(sys.v[1].in6.sin6_scope_id, 3);
	ck_assert_str_eq(fmt(&sys.v[2]), "2001:db8::35");
	dnsctl_free(d);
}
END_TEST

START_TEST(test_rd_revert_gone_link)
{
	struct dnsctl_servers s = sentinels();
	struct dnsctl *d = open_rd();

	/* resolved forgot link 99 (the TUN went first): not an error. */
	ck_assert_int_eq(dnsctl_set(d, 99, &s, NULL), 0);
	ck_assert_int_eq(dnsctl_revert(d), 0);
	/* Other refusals are, with resolved's words. */
	ck_assert_int_eq(dnsctl_set(d, 98, &s, NULL), 0);
	ck_assert_int_lt(dnsctl_revert(d), 0);
	ck_assert_ptr_nonnull(strstr(dnsctl_error(d), "RevertLink: Access "
	    "denied"));
	dnsctl_free(d);
}
END_TEST

START_TEST(test_rd_not_running)
{
	struct dnsctl_servers s = sentinels(), sys;
	struct dnsctl *d = open_rd();

	ck_assert_int_lt(dnsctl_set(d, 7, &s, NULL), 0);
	ck_assert_ptr_nonnull(strstr(dnsctl_error(d),
	    "systemd-resolved is not running"));
	/* The system's servers then come from resolv.conf. */
	put(rconf, "nameserver 192.0.2.77\n");
	ck_assert_int_eq(dnsctl_system_servers(d, &sys), 0);
	ck_assert_uint_eq(sys.n, 1);
	ck_assert_str_eq(fmt(&sys.v[0]), "192.0.2.77");
	dnsctl_free(d);
}
END_TEST

START_TEST(test_rd_no_bus)
{
	struct dnsctl_config c = { .mode = DNSCTL_SYSTEMD_RESOLVED,
	    .resolv_conf = rconf, .backup = backup };
	struct dnsctl_servers s = sentinels();
	char path[400];
	struct dnsctl *d;

	snprintf(path, sizeof(path), "unix:path=%s/no-bus", dir);
	c.bus_address = path;
	ck_assert_int_eq(dnsctl_new(&d, &c), 0);
	ck_assert_int_lt(dnsctl_set(d, 7, &s, NULL), 0);
	ck_assert_ptr_nonnull(strstr(dnsctl_error(d),
	    "cannot connect to the system D-Bus"));
	dnsctl_free(d);
}
END_TEST

static bool
have_dbus_daemon(void)
{
	return system("command -v dbus-daemon >/dev/null 2>&1") == 0;
}

/*
 * fz-tunneld calls dnsctl_set / _system_servers / _revert after its
 * seccomp allow-list is installed (tunneld/svc/sandbox.c, default kill):
 * both backends must get by with it.  A child installs the filter and
 * runs them; SIGSYS would end it.
 */
static void
under_seccomp(struct dnsctl *d)
{
	struct dnsctl_servers s = sentinels(), sys;
	int st;
	pid_t pid;

	if ((pid = fork()) == 0) {
		signal(SIGTERM, SIG_DFL);
		if (tunneld_sandbox(true, SECCOMP_DEFAULT_KILL) != 0)
			_exit(3);
		if (dnsctl_set(d, 7, &s, "corp.test") != 0 ||
		    dnsctl_system_servers(d, &sys) != 0 ||
		    dnsctl_revert(d) != 0 ||
		    dnsctl_set(d, 7, &s, NULL) != 0)
			_exit(2);
		dnsctl_free(d);		/* reverts */
		_exit(0);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st), "killed by signal %d",
	    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	ck_assert_int_eq(WEXITSTATUS(st), 0);
}

START_TEST(test_rd_under_seccomp)
{
	struct dnsctl *d = open_rd();

	under_seccomp(d);
	dnsctl_free(d);
}
END_TEST

START_TEST(test_rc_under_seccomp)
{
	struct dnsctl *d = open_rc();

	under_seccomp(d);
	dnsctl_free(d);
}
END_TEST

static Suite *
dnsctl_suite(void)
{
	Suite *s = suite_create("dnsctl");
	TCase *tc = tcase_create("resolv.conf");
	TCase *rd = tcase_create("resolved"), *nr = tcase_create("no-resolved");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_parse_basic);
	tcase_add_test(tc, test_parse_garbage);
	tcase_add_test(tc, test_parse_long_and_many);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_domain_and_sentinel);
	tcase_add_test(tc, test_mode_parse);
	tcase_add_test(tc, test_rc_file);
	tcase_add_test(tc, test_rc_symlink);
	tcase_add_test(tc, test_rc_missing_file);
	tcase_add_test(tc, test_rc_crash_recovery);
	tcase_add_test(tc, test_rc_bind_mounted);
	tcase_add_test(tc, test_disabled);
	tcase_add_test(tc, test_set_invalid);
	tcase_add_test(tc, test_rd_no_bus);
	tcase_add_test(tc, test_rc_under_seccomp);
	suite_add_tcase(s, tc);

	if (!have_dbus_daemon() && getenv("CI") == NULL) {
		fprintf(stderr, "check_dnsctl: dbus-daemon missing: "
		    "systemd-resolved cases skipped\n");
		return s;
	}
	tcase_add_checked_fixture(rd, setup_fake, teardown_bus);
	tcase_add_test(rd, test_rd_set_revert);
	tcase_add_test(rd, test_rd_free_reverts);
	tcase_add_test(rd, test_rd_system_servers);
	tcase_add_test(rd, test_rd_revert_gone_link);
	tcase_add_test(rd, test_rd_under_seccomp);
	suite_add_tcase(s, rd);
	tcase_add_checked_fixture(nr, setup_bus, teardown_bus);
	tcase_add_test(nr, test_rd_not_running);
	suite_add_tcase(s, nr);
	return s;
}

CHECK_MAIN(dnsctl_suite)
