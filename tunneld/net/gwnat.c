/* SPDX-License-Identifier: ISC */
#define LOG_MODULE "gwnat"
/* Gateway forwarding and masquerade; see gwnat.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "gwnat.h"
#include "log.h"

static const char *const fwd_path[2] = {
	"/proc/sys/net/ipv4/ip_forward",
	"/proc/sys/net/ipv6/conf/all/forwarding",
};

static const char *const nft_path[] = { "/usr/sbin/nft", "/sbin/nft" };

int
gwnat_script(char *buf, size_t len, const char *ifname)
{
	size_t i, n = strlen(ifname);
	int w;

	if (n == 0 || n >= 16)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		char c = ifname[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return -EINVAL;
	}
	w = snprintf(buf, len,
	    "table inet " GWNAT_TABLE "\n"
	    "delete table inet " GWNAT_TABLE "\n"
	    "table inet " GWNAT_TABLE " {\n"
	    "\tchain postrouting {\n"
	    "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
	    "\t\tip saddr 100.64.0.0/11 oifname != \"%s\" masquerade\n"
	    "\t\tip6 saddr fd00:2021:1111::/107 oifname != \"%s\" masquerade\n"
	    "\t}\n"
	    "}\n", ifname, ifname);
	if (w < 0 || (size_t)w >= len)
		return -ENOSPC;
	return w;
}

static size_t
put_hdr(uint8_t *p, uint16_t type, uint16_t flags, uint32_t seq,
    uint8_t family, uint16_t res_id)
{
	struct nlmsghdr nh;
	struct nfgenmsg g;

	memset(&nh, 0, sizeof(nh));
	nh.nlmsg_len = NLMSG_LENGTH(sizeof(g));
	nh.nlmsg_type = type;
	nh.nlmsg_flags = flags;
	nh.nlmsg_seq = seq;
	memset(&g, 0, sizeof(g));
	g.nfgen_family = family;
	g.version = NFNETLINK_V0;
	g.res_id = htons(res_id);
	memcpy(p, &nh, sizeof(nh));
	memcpy(p + NLMSG_HDRLEN, &g, sizeof(g));
	return NLMSG_ALIGN(nh.nlmsg_len);
}

size_t
gwnat_deltable_msg(uint8_t *buf, size_t len, uint32_t seq)
{
	static const char name[] = GWNAT_TABLE;
	struct nlmsghdr nh;
	struct nlattr a;
	size_t hdr = NLMSG_ALIGN(NLMSG_LENGTH(sizeof(struct nfgenmsg)));
	size_t alen = NLA_HDRLEN + sizeof(name);
	size_t del = hdr + NLA_ALIGN(alen);
	size_t off = 0;

	if (len < 3 * hdr + NLA_ALIGN(alen))
		return 0;
	memset(buf, 0, 3 * hdr + NLA_ALIGN(alen));
	off += put_hdr(buf + off, NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, seq,
	    AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
	put_hdr(buf + off, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELTABLE,
	    NLM_F_REQUEST | NLM_F_ACK, seq + 1, NFPROTO_INET, 0);
	memcpy(&nh, buf + off, sizeof(nh));
	nh.nlmsg_len = (uint32_t)(hdr + alen);
	memcpy(buf + off, &nh, sizeof(nh));
	a.nla_len = (uint16_t)alen;
	a.nla_type = NFTA_TABLE_NAME;
	memcpy(buf + off + hdr, &a, sizeof(a));
	memcpy(buf + off + hdr + NLA_HDRLEN, name, sizeof(name));
	off += del;
	off += put_hdr(buf + off, NFNL_MSG_BATCH_END, NLM_F_REQUEST, seq + 2,
	    AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
	return off;
}

void
gwnat_init(struct gwnat *g)
{
	memset(g, 0, sizeof(*g));
	g->fwd_fd[0] = g->fwd_fd[1] = -1;
	g->nfnl_fd = -1;
}

static int
forwarding_on(struct gwnat *g, int i)
{
	ssize_t n;

	if ((g->fwd_fd[i] = open(fwd_path[i], O_RDWR | O_CLOEXEC)) == -1) {
		/* no IPv6 in this kernel or namespace: nothing to forward */
		if (i == 1 && errno == ENOENT)
			return 0;
		return -errno;
	}
	n = pread(g->fwd_fd[i], g->old[i], sizeof(g->old[i]) - 1, 0);
	if (n <= 0)
		return n == 0 ? -EIO : -errno;
	g->old[i][n] = '\0';
	if (strcmp(g->old[i], "1\n") == 0)
		return 0;
	if (pwrite(g->fwd_fd[i], "1\n", 2, 0) != 2)
		return -errno;
	g->changed[i] = true;
	log_info("gateway: %s 1 (was %.*s)", fwd_path[i],
	    (int)strcspn(g->old[i], "\n"), g->old[i]);
	return 0;
}

/* nft -f - with the script on stdin; 0 when it exits 0. */
static int
run_nft(const char *script, size_t len)
{
	const char *nft = NULL;
	int p[2], st, rc = 0;
	size_t i, off = 0;
	pid_t pid;

	for (i = 0; i < sizeof(nft_path) / sizeof(nft_path[0]); i++)
		if (access(nft_path[i], X_OK) == 0) {
			nft = nft_path[i];
			break;
		}
	if (nft == NULL)
		return -ENOENT;
	if (pipe2(p, O_CLOEXEC) == -1)
		return -errno;
	if ((pid = fork()) == -1) {
		rc = -errno;
		close(p[0]);
		close(p[1]);
		return rc;
	}
	if (pid == 0) {
		char *argv[] = { (char *)nft, (char *)"-f", (char *)"-", NULL };
		char *envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		    NULL };

		if (dup2(p[0], 0) == -1)
			_exit(127);
		execve(nft, argv, envp);
		_exit(127);
	}
	close(p[0]);
	while (off < len) {
		ssize_t w = write(p[1], script + off, len - off);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = -EPIPE;
			break;
		}
		off += (size_t)w;
	}
	close(p[1]);
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -errno;
	if (rc == 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		rc = -EIO;
	return rc;
}

int
gwnat_start(struct gwnat *g, const char *ifname, bool masquerade)
{
	char script[1024];
	int i, n, rc;

	for (i = 0; i < 2; i++)
		if ((rc = forwarding_on(g, i)) != 0) {
			log_errorc(-rc, "gateway: %s", fwd_path[i]);
			return rc;
		}
	if (!masquerade) {
		log_info("gateway: no masquerade (--no-masquerade)");
		return 0;
	}
	if ((n = gwnat_script(script, sizeof(script), ifname)) < 0)
		return n;
	g->nfnl_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
	    NETLINK_NETFILTER);
	if (g->nfnl_fd == -1) {
		rc = -errno;
		log_errorc(-rc, "gateway: nfnetlink socket");
		return rc;
	}
	if ((rc = run_nft(script, (size_t)n)) != 0) {
		log_errorc(-rc, "gateway: nft table inet " GWNAT_TABLE
		    " (install nftables, or pass --no-masquerade)");
		return rc;
	}
	g->table = true;
	log_info("gateway: masquerading 100.64.0.0/11 and "
	    "fd00:2021:1111::/107 (nftables table inet " GWNAT_TABLE ")");
	return 0;
}

static int
delete_table(int fd)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	uint8_t buf[256], ack[1024];
	size_t len = gwnat_deltable_msg(buf, sizeof(buf), 1);
	struct nlmsghdr nh;
	struct nlmsgerr e;
	ssize_t n;

	if (len == 0)
		return -ENOSPC;
	if (sendto(fd, buf, len, 0, (struct sockaddr *)&sa, sizeof(sa)) !=
	    (ssize_t)len)
		return -errno;
	/* the DELTABLE's ack (or error) */
	n = recv(fd, ack, sizeof(ack), 0);
	if (n < (ssize_t)(NLMSG_HDRLEN + sizeof(e)))
		return n < 0 ? -errno : -EIO;
	memcpy(&nh, ack, sizeof(nh));
	if (nh.nlmsg_type != NLMSG_ERROR)
		return 0;
	memcpy(&e, ack + NLMSG_HDRLEN, sizeof(e));
	return e.error;
}

void
gwnat_stop(struct gwnat *g)
{
	int i, rc;

	if (g->table && g->nfnl_fd != -1) {
		if ((rc = delete_table(g->nfnl_fd)) != 0)
			log_warnc(-rc, "gateway: deleting table inet "
			    GWNAT_TABLE);
		else
			log_info("gateway: table inet " GWNAT_TABLE
			    " deleted");
	}
	g->table = false;
	if (g->nfnl_fd != -1)
		close(g->nfnl_fd);
	g->nfnl_fd = -1;
	for (i = 0; i < 2; i++) {
		if (g->changed[i] &&
		    pwrite(g->fwd_fd[i], g->old[i], strlen(g->old[i]), 0) == -1)
			log_warn("gateway: restoring %s", fwd_path[i]);
		g->changed[i] = false;
		if (g->fwd_fd[i] != -1)
			close(g->fwd_fd[i]);
		g->fwd_fd[i] = -1;
	}
}
