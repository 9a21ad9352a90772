/* SPDX-License-Identifier: ISC */
/*
 * The SQLite backend of the device store.  One table; the AUTOINCREMENT
 * row number n picks the addresses (100.64.0.0 + n, fd00:2021:1111:: + n),
 * and SQLite never reuses an AUTOINCREMENT value, so an address is never
 * handed out twice even if rows were ever deleted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <sqlite3.h>

#include "store.h"

/* Every statement the store runs, prepared once on first use and kept
 * (parsing the SQL was most of a device upsert's time). */
enum {
	Q_BEGIN, Q_COMMIT, Q_ROLLBACK, Q_LOOKUP, Q_INSERT, Q_SET_ADDRS,
	Q_UPDATE, Q_SEEN, Q_AUTHZ_PUT, Q_AUTHZ_DEL, Q_AUTHZ_EXPIRE,
	Q_AUTHZ_EACH, Q_N
};

static const char *const sql[Q_N] = {
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	[Q_LOOKUP] = "SELECT id, name, public_key, ipv4, ipv6, "
	    "psk_base, last_seen FROM devices WHERE role=?1 AND external_id=?2",
	[Q_INSERT] = "INSERT INTO devices (id, role, external_id, "
	    "name, public_key, ipv4, ipv6, psk_base, last_seen) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?1, ?1, ?6, ?7)",
	[Q_SET_ADDRS] = "UPDATE devices SET ipv4=?1, ipv6=?2 WHERE id=?3 "
	    "AND n=?4",
	[Q_UPDATE] = "UPDATE devices SET name=?1, "
	    "public_key=?2, last_seen=?4 WHERE id=?3",
	[Q_SEEN] = "UPDATE devices SET last_seen=?4 WHERE id=?3 "
	    "AND ?1 IS NULL AND ?2 IS NULL",
	[Q_AUTHZ_PUT] = "INSERT OR REPLACE INTO authorizations "
	    "(client_id, gateway_id, resource_id, client_owner, expires_at) "
	    "VALUES (?1, ?2, ?3, ?4, ?5)",
	[Q_AUTHZ_DEL] = "DELETE FROM authorizations WHERE "
	    "client_id=?1 AND gateway_id=?2 AND resource_id=?3",
	[Q_AUTHZ_EXPIRE] = "DELETE FROM authorizations WHERE "
	    "expires_at <= ?4 AND ?1 IS NULL AND ?2 IS NULL AND ?3 IS NULL",
	[Q_AUTHZ_EACH] = "SELECT client_id, gateway_id, "
	    "resource_id, client_owner, expires_at FROM authorizations "
	    "WHERE expires_at > ?1",
};

struct sqlite_store {
	struct pd_store	 base;
	sqlite3		*db;
	sqlite3_stmt	*st[Q_N];	/* NULL until first used */
};

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"CREATE TABLE IF NOT EXISTS devices ("
	" n INTEGER PRIMARY KEY AUTOINCREMENT,"
	" id TEXT NOT NULL UNIQUE,"
	" role INTEGER NOT NULL,"
	" external_id TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" public_key TEXT NOT NULL,"
	" ipv4 TEXT NOT NULL UNIQUE,"
	" ipv6 TEXT NOT NULL UNIQUE,"
	" psk_base BLOB NOT NULL,"
	" last_seen INTEGER NOT NULL,"
	" UNIQUE (role, external_id));"
	"CREATE TABLE IF NOT EXISTS authorizations ("
	" client_id TEXT NOT NULL,"
	" gateway_id TEXT NOT NULL,"
	" resource_id TEXT NOT NULL,"
	" client_owner TEXT NOT NULL,"
	" expires_at INTEGER NOT NULL,"
	" PRIMARY KEY (client_id, gateway_id, resource_id));"
	"PRAGMA user_version=1;";

int
pd_store_addresses(uint32_t n, char ipv4[INET_ADDRSTRLEN],
    char ipv6[INET6_ADDRSTRLEN])
{
	struct in_addr a4;
	struct in6_addr a6;

	if (n == 0 || n > PD_STORE_MAX_DEVICES)
		return -ERANGE;
	/* 100.64.0.0/11 */
	a4.s_addr = htonl(0x64400000u + n);
	/* fd00:2021:1111::/107: the low 21 bits */
	memset(&a6, 0, sizeof(a6));
	a6.s6_addr[0] = 0xfd;
	a6.s6_addr[2] = 0x20;
	a6.s6_addr[3] = 0x21;
	a6.s6_addr[4] = 0x11;
	a6.s6_addr[5] = 0x11;
	a6.s6_addr[13] = (unsigned char)(n >> 16);
	a6.s6_addr[14] = (unsigned char)(n >> 8);
	a6.s6_addr[15] = (unsigned char)n;
	inet_ntop(AF_INET, &a4, ipv4, INET_ADDRSTRLEN);
	inet_ntop(AF_INET6, &a6, ipv6, INET6_ADDRSTRLEN);
	return 0;
}

static int
rand_uuid(char out[37])
{
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		return -EIO;
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

static int
sq_err(int rc)
{
	switch (rc) {
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_CANTOPEN:
		return -EACCES;
	default:
		return -EIO;
	}
}

/* Statement q, ready to bind; give it back with put() before returning. */
static int
get(struct sqlite_store *s, int q, sqlite3_stmt **out)
{
	int rc;

	if (s->st[q] == NULL && (rc = sqlite3_prepare_v3(s->db, sql[q], -1,
	    SQLITE_PREPARE_PERSISTENT, &s->st[q], NULL)) != SQLITE_OK) {
		s->st[q] = NULL;
		return sq_err(rc);
	}
	*out = s->st[q];
	return 0;
}

/* Ends the statement's run (releasing its locks) and drops its bindings,
 * which may point into the caller's stack. */
static void
put(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Runs a statement without parameters (BEGIN, COMMIT, ROLLBACK). */
static int
run(struct sqlite_store *s, int q)
{
	sqlite3_stmt *st = NULL;
	int rc, r;

	if ((r = get(s, q, &st)) != 0)
		return r;
	rc = sqlite3_step(st);
	put(st);
	return rc == SQLITE_DONE ? 0 : sq_err(rc);
}

static void
copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/* Reads the device (role, external_id) into *out: 0, -ENOENT or -errno. */
static int
lookup(struct sqlite_store *s, enum pd_role role, const char *ext,
    struct pd_device *out)
{
	sqlite3_stmt *st = NULL;
	int rc, r;

	if ((r = get(s, Q_LOOKUP, &st)) != 0)
		return r;
	sqlite3_bind_int(st, 1, (int)role);
	sqlite3_bind_text(st, 2, ext, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		r = -ENOENT;
	else if (rc != SQLITE_ROW)
		r = sq_err(rc);
	else if (sqlite3_column_bytes(st, 5) != PD_PSK_BASE_LEN)
		r = -EIO;
	else {
		copy_col(out->id, sizeof(out->id), st, 0);
		copy_col(out->name, sizeof(out->name), st, 1);
		copy_col(out->public_key, sizeof(out->public_key), st, 2);
		copy_col(out->ipv4, sizeof(out->ipv4), st, 3);
		copy_col(out->ipv6, sizeof(out->ipv6), st, 4);
		memcpy(out->psk_base, sqlite3_column_blob(st, 5),
		    PD_PSK_BASE_LEN);
		out->last_seen = sqlite3_column_int64(st, 6);
		out->role = role;
		snprintf(out->external_id, sizeof(out->external_id), "%s", ext);
		r = 0;
	}
	put(st);
	return r;
}

static int
exec_bind(struct sqlite_store *s, int q, const char *a, const char *b,
    const char *c, int64_t n)
{
	sqlite3_stmt *st = NULL;
	int rc, r;

	if ((r = get(s, q, &st)) != 0)
		return r;
	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, c, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, n);
	rc = sqlite3_step(st);
	put(st);
	return rc == SQLITE_DONE ? 0 : sq_err(rc);
}

static int
insert(struct sqlite_store *s, enum pd_role role, const char *ext,
    const char *name, const char *pk, int64_t now)
{
	unsigned char psk[PD_PSK_BASE_LEN];
	char id[37], v4[INET_ADDRSTRLEN], v6[INET6_ADDRSTRLEN];
	sqlite3_stmt *st = NULL;
	sqlite3_int64 n;
	int rc, r;

	if ((r = rand_uuid(id)))
		return r;
	if (getrandom(psk, sizeof(psk), 0) != sizeof(psk))
		return -EIO;
	if ((r = get(s, Q_INSERT, &st)) != 0)
		goto out;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, (int)role);
	sqlite3_bind_text(st, 3, ext, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, pk, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 6, psk, sizeof(psk), SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, now);
	rc = sqlite3_step(st);
	put(st);
	if (rc != SQLITE_DONE) {
		r = sq_err(rc);
		goto out;
	}
	/* The row number picks the addresses (placeholders were the id). */
	n = sqlite3_last_insert_rowid(s->db);
	if (n <= 0 || n > PD_STORE_MAX_DEVICES) {
		r = -ENOSPC;
		goto out;
	}
	if ((r = pd_store_addresses((uint32_t)n, v4, v6)))
		goto out;
	r = exec_bind(s, Q_SET_ADDRS, v4, v6, id, n);
out:
	explicit_bzero(psk, sizeof(psk));
	return r;
}

static int
sq_upsert(struct pd_store *base, enum pd_role role, const char *ext,
    const char *name, const char *pk, int64_t now, struct pd_device *out)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	struct pd_device d;
	int r;

	if ((r = run(s, Q_BEGIN)) != 0)
		return r;
	r = lookup(s, role, ext, &d);
	if (r == -ENOENT)
		r = insert(s, role, ext, name, pk, now);
	else if (r == 0)
		r = exec_bind(s, Q_UPDATE, name, pk, d.id, now);
	if (r == 0)
		r = lookup(s, role, ext, &d);
	if (r == 0)
		r = run(s, Q_COMMIT);
	if (r != 0)
		(void)run(s, Q_ROLLBACK);
	else
		*out = d;
	explicit_bzero(&d, sizeof(d));
	return r;
}

static int
sq_seen(struct pd_store *base, const char *id, int64_t now)
{
	struct sqlite_store *s = (struct sqlite_store *)base;

	return exec_bind(s, Q_SEEN, NULL, NULL, id, now);
}

static int
sq_authz_put(struct pd_store *base, const struct pd_store_authz *a)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = NULL;
	int rc, r;

	if ((r = get(s, Q_AUTHZ_PUT, &st)) != 0)
		return r;
	sqlite3_bind_text(st, 1, a->client_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a->gateway_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, a->resource_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, a->client_owner, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, a->expires_at);
	rc = sqlite3_step(st);
	put(st);
	return rc == SQLITE_DONE ? 0 : sq_err(rc);
}

static int
sq_authz_del(struct pd_store *base, const char *cid, const char *gid,
    const char *rid)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	sqlite3_stmt *st = NULL;
	int rc, r;

	if ((r = get(s, Q_AUTHZ_DEL, &st)) != 0)
		return r;
	sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, gid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, rid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	put(st);
	return rc == SQLITE_DONE ? 0 : sq_err(rc);
}

/* A stored column into a fixed field; -EINVAL if it does not fit. */
static int
col_copy(sqlite3_stmt *st, int i, char *out, size_t len)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	int n = sqlite3_column_bytes(st, i);

	if (t == NULL || n < 0 || (size_t)n >= len)
		return -EINVAL;
	memcpy(out, t, (size_t)n);
	out[n] = '\0';
	return 0;
}

static int
sq_authz_each(struct pd_store *base, int64_t now,
    int (*cb)(void *, const struct pd_store_authz *), void *arg)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	struct pd_store_authz a;
	sqlite3_stmt *st = NULL;
	int rc, r = 0;

	(void)exec_bind(s, Q_AUTHZ_EXPIRE, NULL, NULL, NULL, now);
	if ((r = get(s, Q_AUTHZ_EACH, &st)) != 0)
		return r;
	sqlite3_bind_int64(st, 1, now);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&a, 0, sizeof(a));
		if (col_copy(st, 0, a.client_id, sizeof(a.client_id)) != 0 ||
		    col_copy(st, 1, a.gateway_id, sizeof(a.gateway_id)) != 0 ||
		    col_copy(st, 2, a.resource_id, sizeof(a.resource_id)) != 0 ||
		    col_copy(st, 3, a.client_owner,
		    sizeof(a.client_owner)) != 0)
			continue;	/* not ours: skipped */
		a.expires_at = sqlite3_column_int64(st, 4);
		r = cb(arg, &a);
	}
	put(st);
	if (r != 0)
		return r;
	return rc == SQLITE_DONE ? 0 : sq_err(rc);
}

static void
sq_close(struct pd_store *base)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	int q;

	for (q = 0; q < Q_N; q++)
		sqlite3_finalize(s->st[q]);
	sqlite3_close(s->db);
	free(s);
}

static const struct pd_store_ops sqlite_ops = {
	.device_upsert = sq_upsert,
	.device_seen = sq_seen,
	.authz_put = sq_authz_put,
	.authz_del = sq_authz_del,
	.authz_each = sq_authz_each,
	.close = sq_close,
};

int
pd_store_open_sqlite(const char *path, struct pd_store **out)
{
	struct sqlite_store *s;
	int rc;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	s->base.ops = &sqlite_ops;
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(s->db, 5000);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->db, schema, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int r = sq_err(rc);

		sqlite3_close(s->db);
		free(s);
		return r == -EIO ? -EINVAL : r;
	}
	*out = &s->base;
	return 0;
}

int
pd_store_device_upsert(struct pd_store *s, enum pd_role role,
    const char *external_id, const char *name, const char *public_key,
    int64_t now, struct pd_device *out)
{
	if ((role != PD_ROLE_CLIENT && role != PD_ROLE_GATEWAY) ||
	    strlen(external_id) == 0 || strlen(external_id) > PD_EXTID_MAX ||
	    strlen(name) > PD_NAME_MAX || strlen(public_key) != PD_PUBKEY_LEN)
		return -EINVAL;
	return s->ops->device_upsert(s, role, external_id, name, public_key,
	    now, out);
}

int
pd_store_device_seen(struct pd_store *s, const char *id, int64_t now)
{
	return s->ops->device_seen(s, id, now);
}

int
pd_store_authz_put(struct pd_store *s, const struct pd_store_authz *a)
{
	if (s == NULL || s->ops->authz_put == NULL)
		return 0;
	return s->ops->authz_put(s, a);
}

int
pd_store_authz_del(struct pd_store *s, const char *client_id,
    const char *gateway_id, const char *resource_id)
{
	if (s == NULL || s->ops->authz_del == NULL)
		return 0;
	return s->ops->authz_del(s, client_id, gateway_id, resource_id);
}

int
pd_store_authz_each(struct pd_store *s, int64_t now,
    int (*cb)(void *, const struct pd_store_authz *), void *arg)
{
	if (s == NULL || s->ops->authz_each == NULL)
		return 0;
	return s->ops->authz_each(s, now, cb, arg);
}

void
pd_store_free(struct pd_store *s)
{
	if (s != NULL)
		s->ops->close(s);
}
