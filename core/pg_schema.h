#pragma once
// The PostgreSQL store's schema and statements (core/pg_store.cc). The tables are the SQLite
// store's (core/sqlite_store.cc), with BIGINT for every integer, BYTEA for blobs and the "C"
// collation on keys that are listed in order (the same byte order as SQLite's).

#include <cstdint>

namespace pay::store::pg {

// The transaction-scoped advisory lock every writer (and a migration) takes first: one per
// schema (advisory locks are per database; books in two schemas of one database are two sets
// of books, and their writers do not wait for each other).
inline constexpr const char* kWritersLock = "7228713, hashtext(current_schema())";

// The PostgreSQL store's own numbering, in meta.schema_version: 1 the tables, 2 the change log.
inline constexpr int kSchemaVersion = 2;

// Commits the change log keeps (a writer that fell further behind drops all its caches).
inline constexpr int64_t kChangeLogRows = 4096;

inline constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta(key, value) VALUES('schema_version', '1'), ('commits', '0');
CREATE TABLE accounts(
  num BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id TEXT COLLATE "C" NOT NULL UNIQUE,
  currency TEXT NOT NULL,
  type BIGINT NOT NULL,
  overdraft_mode BIGINT NOT NULL,
  overdraft_limit_minor BIGINT NOT NULL,
  metadata BYTEA NOT NULL,
  created_at_ms BIGINT NOT NULL
);
CREATE TABLE balances(
  num BIGINT PRIMARY KEY,
  debits_posted_minor BIGINT NOT NULL,
  credits_posted_minor BIGINT NOT NULL,
  debits_pending_minor BIGINT NOT NULL,
  credits_pending_minor BIGINT NOT NULL,
  last_seq BIGINT NOT NULL
);
CREATE TABLE entries(
  seq BIGINT PRIMARY KEY,
  ref TEXT COLLATE "C" UNIQUE,
  kind BIGINT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  description TEXT NOT NULL,
  reverses_seq BIGINT NOT NULL,
  resolves_seq BIGINT NOT NULL,
  expires_at_ms BIGINT NOT NULL,
  legs BYTEA NOT NULL,
  digest BYTEA NOT NULL,
  hash BYTEA NOT NULL
);
CREATE FUNCTION entries_immutable() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'entries are immutable'; END $$;
CREATE TRIGGER entries_no_change BEFORE UPDATE OR DELETE ON entries
  FOR EACH ROW EXECUTE FUNCTION entries_immutable();
CREATE TABLE entry_states(
  seq BIGINT PRIMARY KEY,
  state BIGINT NOT NULL,
  expires_at_ms BIGINT NOT NULL,
  resolved_by_seq BIGINT NOT NULL
);
CREATE INDEX entry_states_due ON entry_states(state, expires_at_ms) WHERE expires_at_ms > 0;
CREATE TABLE idempotency(
  scope TEXT COLLATE "C" NOT NULL,
  operation BIGINT NOT NULL,
  key TEXT COLLATE "C" NOT NULL,
  fingerprint BYTEA NOT NULL,
  state BIGINT NOT NULL,
  status BIGINT NOT NULL,
  message TEXT NOT NULL,
  entry_seq BIGINT NOT NULL,
  body BYTEA NOT NULL,
  created_at_ms BIGINT NOT NULL,
  expires_at_ms BIGINT NOT NULL,
  PRIMARY KEY(scope, operation, key)
);
CREATE INDEX idempotency_in_flight ON idempotency(created_at_ms) WHERE state = 1;
CREATE TABLE velocity_state(
  rule TEXT COLLATE "C" NOT NULL,
  key TEXT COLLATE "C" NOT NULL,
  state BYTEA NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  PRIMARY KEY(rule, key)
);
CREATE TABLE velocity_log(seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body BYTEA NOT NULL);
CREATE TABLE records(
  kind BIGINT NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  owner TEXT COLLATE "C" NOT NULL,
  due_ms BIGINT NOT NULL,
  body BYTEA NOT NULL,
  open_ms BIGINT NOT NULL,
  PRIMARY KEY(kind, id)
);
CREATE INDEX records_owner ON records(kind, owner, id) WHERE owner <> '';
CREATE INDEX records_due ON records(kind, due_ms) WHERE due_ms > 0;
CREATE INDEX records_open ON records(kind, id) WHERE open_ms > 0;
)sql";

// The change log: one row per commit (the commit counter's value), what it changed
// (store::EncodeChanges), read by the other writers at their next BEGIN.
inline constexpr const char* kSchemaV2 = R"sql(
CREATE TABLE changes(commit BIGINT PRIMARY KEY, body BYTEA NOT NULL);
UPDATE meta SET value = '2' WHERE key = 'schema_version';
)sql";

#define PAY_PG_ACCOUNT_COLS                                                                    \
  "a.num, a.id, a.currency, a.type, a.overdraft_mode, a.overdraft_limit_minor, a.metadata, " \
  "a.created_at_ms, b.debits_posted_minor, b.credits_posted_minor, b.debits_pending_minor, " \
  "b.credits_pending_minor, b.last_seq FROM accounts a JOIN balances b ON b.num = a.num"
#define PAY_PG_ENTRY_COLS                                                                      \
  "seq, ref, kind, created_at_ms, description, reverses_seq, resolves_seq, expires_at_ms, "    \
  "legs, digest, hash"
#define PAY_PG_IDEM_COLS                                                                       \
  "scope, operation, key, fingerprint, state, status, message, entry_seq, body, "              \
  "created_at_ms, expires_at_ms"
#define PAY_PG_RECORD_COLS "kind, id, owner, due_ms, body, open_ms"

struct Statement {
  const char* name;
  const char* sql;
};

// Every statement the store runs, prepared once per connection.
inline constexpr Statement kStatements[] = {
    {"insert_account",
     "INSERT INTO accounts(id, currency, type, overdraft_mode, overdraft_limit_minor, metadata, "
     "created_at_ms) VALUES($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING RETURNING num"},
    {"insert_balance", "INSERT INTO balances VALUES($1, $2, $3, $4, $5, $6)"},
    {"find_account", "SELECT " PAY_PG_ACCOUNT_COLS " WHERE a.id = $1"},
    {"find_account_num", "SELECT " PAY_PG_ACCOUNT_COLS " WHERE a.num = $1"},
    {"update_account",
     "UPDATE balances SET debits_posted_minor = $1, credits_posted_minor = $2, "
     "debits_pending_minor = $3, credits_pending_minor = $4, last_seq = $5 WHERE num = $6"},
    {"list_accounts", "SELECT " PAY_PG_ACCOUNT_COLS " WHERE a.id > $1 ORDER BY a.id LIMIT $2"},
    {"insert_entry", "INSERT INTO entries(" PAY_PG_ENTRY_COLS ") VALUES($1, $2, $3, $4, $5, $6, "
                     "$7, $8, $9, $10, $11) ON CONFLICT (ref) DO NOTHING"},
    {"find_entry", "SELECT " PAY_PG_ENTRY_COLS " FROM entries WHERE seq = $1"},
    {"find_entry_ref", "SELECT " PAY_PG_ENTRY_COLS " FROM entries WHERE ref = $1"},
    {"last_entry", "SELECT " PAY_PG_ENTRY_COLS " FROM entries ORDER BY seq DESC LIMIT 1"},
    {"scan_entries", "SELECT " PAY_PG_ENTRY_COLS " FROM entries WHERE seq > $1 ORDER BY seq LIMIT $2"},
    {"put_state",
     "INSERT INTO entry_states VALUES($1, $2, $3, $4) ON CONFLICT (seq) DO UPDATE SET "
     "state = EXCLUDED.state, expires_at_ms = EXCLUDED.expires_at_ms, "
     "resolved_by_seq = EXCLUDED.resolved_by_seq"},
    {"find_state", "SELECT seq, state, expires_at_ms, resolved_by_seq FROM entry_states WHERE seq = $1"},
    {"due_states",
     "SELECT seq, state, expires_at_ms, resolved_by_seq FROM entry_states WHERE state = $1 AND "
     "expires_at_ms > 0 AND expires_at_ms <= $2 ORDER BY expires_at_ms, seq LIMIT $3"},
    {"append_velocity_log", "INSERT INTO velocity_log(body) VALUES($1)"},
    {"velocity_log", "SELECT seq, body FROM velocity_log ORDER BY seq"},
    {"clear_velocity_log", "DELETE FROM velocity_log"},
    {"find_idem", "SELECT " PAY_PG_IDEM_COLS " FROM idempotency WHERE scope = $1 AND operation = $2 AND key = $3"},
    {"put_idem",
     "INSERT INTO idempotency(" PAY_PG_IDEM_COLS ") VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, "
     "$10, $11) ON CONFLICT (scope, operation, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, "
     "state = EXCLUDED.state, status = EXCLUDED.status, message = EXCLUDED.message, "
     "entry_seq = EXCLUDED.entry_seq, body = EXCLUDED.body, created_at_ms = EXCLUDED.created_at_ms, "
     "expires_at_ms = EXCLUDED.expires_at_ms"},
    {"delete_idem", "DELETE FROM idempotency WHERE scope = $1 AND operation = $2 AND key = $3"},
    {"in_flight_idem", "SELECT " PAY_PG_IDEM_COLS " FROM idempotency WHERE state = 1 ORDER BY created_at_ms LIMIT $1"},
    {"purge_idem",
     "DELETE FROM idempotency WHERE (scope, operation, key) IN (SELECT scope, operation, key "
     "FROM idempotency WHERE expires_at_ms <= $1 AND state = 2 LIMIT $2)"},
    {"find_velocity", "SELECT rule, key, state, updated_at_ms FROM velocity_state WHERE rule = $1 AND key = $2"},
    {"put_velocity",
     "INSERT INTO velocity_state VALUES($1, $2, $3, $4) ON CONFLICT (rule, key) DO UPDATE SET "
     "state = EXCLUDED.state, updated_at_ms = EXCLUDED.updated_at_ms"},
    {"list_velocity",
     "SELECT rule, key, state, updated_at_ms FROM velocity_state WHERE ($1 = '' OR rule = $1) "
     "AND key >= $2 ORDER BY rule, key LIMIT $3"},
    // A write set's rows, one statement per table (arrays of each column, unnested).
    {"insert_entries",
     "INSERT INTO entries(" PAY_PG_ENTRY_COLS ") SELECT * FROM unnest($1::bigint[], $2::text[], "
     "$3::bigint[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[], "
     "$9::bytea[], $10::bytea[], $11::bytea[]) ON CONFLICT (ref) DO NOTHING"},
    {"put_records",
     "INSERT INTO records(" PAY_PG_RECORD_COLS ") SELECT * FROM unnest($1::bigint[], $2::text[], "
     "$3::text[], $4::bigint[], $5::bytea[], $6::bigint[]) ON CONFLICT (kind, id) DO UPDATE SET "
     "due_ms = EXCLUDED.due_ms, body = EXCLUDED.body, open_ms = EXCLUDED.open_ms "
     "WHERE records.owner = EXCLUDED.owner"},
    {"put_idems",
     "INSERT INTO idempotency(" PAY_PG_IDEM_COLS ") SELECT * FROM unnest($1::text[], $2::bigint[], "
     "$3::text[], $4::bytea[], $5::bigint[], $6::bigint[], $7::text[], $8::bigint[], $9::bytea[], "
     "$10::bigint[], $11::bigint[]) ON CONFLICT (scope, operation, key) DO UPDATE SET "
     "fingerprint = EXCLUDED.fingerprint, state = EXCLUDED.state, status = EXCLUDED.status, "
     "message = EXCLUDED.message, entry_seq = EXCLUDED.entry_seq, body = EXCLUDED.body, "
     "created_at_ms = EXCLUDED.created_at_ms, expires_at_ms = EXCLUDED.expires_at_ms"},
    {"put_states",
     "INSERT INTO entry_states SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], "
     "$4::bigint[]) ON CONFLICT (seq) DO UPDATE SET state = EXCLUDED.state, "
     "expires_at_ms = EXCLUDED.expires_at_ms, resolved_by_seq = EXCLUDED.resolved_by_seq"},
    {"read_changes", "SELECT commit, body FROM changes WHERE commit > $1 ORDER BY commit"},
    {"put_record",
     "INSERT INTO records(" PAY_PG_RECORD_COLS ") VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT "
     "(kind, id) DO UPDATE SET due_ms = EXCLUDED.due_ms, body = EXCLUDED.body, "
     "open_ms = EXCLUDED.open_ms WHERE records.owner = EXCLUDED.owner"},
    {"find_record", "SELECT " PAY_PG_RECORD_COLS " FROM records WHERE kind = $1 AND id = $2"},
    {"delete_record", "DELETE FROM records WHERE kind = $1 AND id = $2"},
    {"list_records",
     "SELECT " PAY_PG_RECORD_COLS " FROM records WHERE kind = $1 AND id > $2 ORDER BY id LIMIT $3"},
    {"list_owner_records",
     "SELECT " PAY_PG_RECORD_COLS " FROM records WHERE kind = $1 AND owner = $2 AND id > $3 "
     "ORDER BY id LIMIT $4"},
    {"due_records",
     "SELECT " PAY_PG_RECORD_COLS " FROM records WHERE kind = $1 AND due_ms > 0 AND due_ms <= $2 "
     "ORDER BY due_ms, id LIMIT $3"},
    {"open_records",
     "SELECT " PAY_PG_RECORD_COLS " FROM records WHERE kind = $1 AND open_ms > 0 AND id > $2 "
     "ORDER BY id LIMIT $3"},
};

}  // namespace pay::store::pg
