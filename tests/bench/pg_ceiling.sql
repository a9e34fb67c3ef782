-- PostgreSQL's own ceiling for the rows paymentd writes per authorization (pgbench script; run by
-- tests/bench/cluster_bench.sh against a database `paymentctl init` made, with -D b=BATCH).
-- One pgbench transaction is a batch of :b authorizations in paymentd's two transactions, each
-- under the writers' advisory lock and with the commit counter, rows sent as arrays:
--   claim:       :b payment records and :b idempotency records (in flight) inserted;
--   completion:  :b hold entries and :b entry states inserted, the :b payment records and
--                idempotency records (the answer, ~300 bytes) rewritten, 2 balances updated.
-- Ids come from a sequence (bench_batches), :b per transaction.
SELECT nextval('bench_batches') * :b AS lo \gset
BEGIN;
SELECT pg_advisory_xact_lock(7228713);
SELECT value FROM meta WHERE key = 'commits';
INSERT INTO records(kind, id, owner, due_ms, body, open_ms)
  SELECT 1, 'bench' || i, 'acme', 0, decode(repeat('a1', 250), 'hex'), 1
  FROM generate_series(:lo, :lo + :b - 1) i;
INSERT INTO idempotency(scope, operation, key, fingerprint, state, status, message, entry_seq, body,
                        created_at_ms, expires_at_ms)
  SELECT 'acme', 20, 'k' || i, decode(repeat('f0', 32), 'hex'), 1, 0, '', 0, '', 0, 0
  FROM generate_series(:lo, :lo + :b - 1) i;
UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'commits';
COMMIT;
BEGIN;
SELECT pg_advisory_xact_lock(7228713);
SELECT value FROM meta WHERE key = 'commits';
INSERT INTO entries(seq, ref, kind, created_at_ms, description, reverses_seq, resolves_seq,
                    expires_at_ms, legs, digest, hash)
  SELECT 1000000000 + i, 'bench/' || i, 1, 0, '', 0, 0, 0, decode(repeat('0b', 80), 'hex'),
         decode(repeat('d1', 32), 'hex'), decode(repeat('a5', 32), 'hex')
  FROM generate_series(:lo, :lo + :b - 1) i;
INSERT INTO entry_states(seq, state, expires_at_ms, resolved_by_seq)
  SELECT 1000000000 + i, 1, 1, 0 FROM generate_series(:lo, :lo + :b - 1) i;
INSERT INTO records(kind, id, owner, due_ms, body, open_ms)
  SELECT 1, 'bench' || i, 'acme', 0, decode(repeat('a2', 250), 'hex'), 0
  FROM generate_series(:lo, :lo + :b - 1) i
  ON CONFLICT (kind, id) DO UPDATE SET due_ms = EXCLUDED.due_ms, body = EXCLUDED.body,
                                       open_ms = EXCLUDED.open_ms;
INSERT INTO idempotency(scope, operation, key, fingerprint, state, status, message, entry_seq, body,
                        created_at_ms, expires_at_ms)
  SELECT 'acme', 20, 'k' || i, decode(repeat('f0', 32), 'hex'), 2, 0, '', 1, decode(repeat('c3', 300), 'hex'), 0, 0
  FROM generate_series(:lo, :lo + :b - 1) i
  ON CONFLICT (scope, operation, key) DO UPDATE SET state = EXCLUDED.state, body = EXCLUDED.body,
                                                    entry_seq = EXCLUDED.entry_seq;
UPDATE balances SET credits_pending_minor = credits_pending_minor + 1 WHERE num IN (1, 2);
UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'commits';
COMMIT;
