#pragma once
// A write set (core/store.h) as the PostgreSQL store sends it: the entries, records, idempotency
// records and entry states each as one statement of column arrays (INSERT ... SELECT * FROM
// unnest(...), statements in core/pg_schema.h), so that a table's rows cost one statement, not
// one each; deletions and velocity states (few) one statement a row. Entries go first.

#include <cstdint>
#include <vector>

#include "core/pg_connection.h"
#include "core/store.h"

namespace pay::store::pg {

struct WriteSetStatements {
  std::vector<Queued> statements;
  std::vector<int64_t> rows;  // rows each statement must touch; -1: any number
};

WriteSetStatements StatementsFor(const WriteSet& set);

}  // namespace pay::store::pg
