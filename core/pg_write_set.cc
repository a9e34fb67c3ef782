// A write set's statements for the PostgreSQL store (core/pg_write_set.h).

#include "core/pg_write_set.h"

namespace pay::store::pg {

namespace {

Params EntryArrays(const std::vector<EntryRow>& entries) {
  Array seq(Array::kInt8), ref(Array::kText), kind(Array::kInt8),
      created(Array::kInt8), description(Array::kText), reverses(Array::kInt8),
      resolves(Array::kInt8), expires(Array::kInt8), legs(Array::kBytea),
      digest(Array::kBytea), hash(Array::kBytea);
  for (const EntryRow& e : entries) {
    seq.Int(e.seq);
    if (e.ref.empty()) {
      ref.Null();
    } else {
      ref.Text(e.ref);
    }
    kind.Int(e.kind);
    created.Int(e.created_at_ms);
    description.Text(e.description);
    reverses.Int(e.reverses_seq);
    resolves.Int(e.resolves_seq);
    expires.Int(e.expires_at_ms);
    legs.Text(e.legs);
    digest.Text(e.digest);
    hash.Text(e.hash);
  }
  Params p;
  for (const Array* a : {&seq, &ref, &kind, &created, &description, &reverses, &resolves,
                             &expires, &legs, &digest, &hash}) {
    p.Text(a->Encode());
  }
  return p;
}

template <class Add>
void AddIdempotency(const WriteSet& set, Add& add) {
  Array scope(Array::kText), op(Array::kInt8), key(Array::kText),
      fingerprint(Array::kBytea), state(Array::kInt8), status(Array::kInt8),
      message(Array::kText), entry(Array::kInt8), body(Array::kBytea),
      created(Array::kInt8), expires(Array::kInt8);
  int64_t puts = 0;
  for (const auto& [k, row] : set.idempotency) {
    if (!row) {
      add("delete_idem", Params().Text(std::get<0>(k)).Int(std::get<1>(k)).Text(std::get<2>(k)),
          -1);
      continue;
    }
    scope.Text(row->scope);
    op.Int(row->operation);
    key.Text(row->key);
    fingerprint.Text(row->fingerprint);
    state.Int(row->state);
    status.Int(row->status);
    message.Text(row->message);
    entry.Int(row->entry_seq);
    body.Text(row->body);
    created.Int(row->created_at_ms);
    expires.Int(row->expires_at_ms);
    ++puts;
  }
  if (puts == 0) return;
  Params p;
  for (const Array* a : {&scope, &op, &key, &fingerprint, &state, &status, &message, &entry,
                             &body, &created, &expires}) {
    p.Text(a->Encode());
  }
  add("put_idems", std::move(p), puts);
}

Params StateArrays(const std::map<int64_t, EntryStateRow>& states) {
  Array seq(Array::kInt8), state(Array::kInt8), expires(Array::kInt8),
      resolved(Array::kInt8);
  for (const auto& [s, st] : states) {
    seq.Int(st.seq);
    state.Int(st.state);
    expires.Int(st.expires_at_ms);
    resolved.Int(st.resolved_by_seq);
  }
  return Params()
      .Text(seq.Encode())
      .Text(state.Encode())
      .Text(expires.Encode())
      .Text(resolved.Encode());
}

template <class Add>
void AddRecords(const WriteSet& set, Add& add) {
  Array kind(Array::kInt8), id(Array::kText), owner(Array::kText), due(Array::kInt8),
      body(Array::kBytea), open(Array::kInt8);
  int64_t puts = 0;
  for (const auto& [key, row] : set.records) {
    if (!row) {
      add("delete_record", Params().Int(key.first).Text(key.second), -1);
      continue;
    }
    kind.Int(row->kind);
    id.Text(row->id);
    owner.Text(row->owner);
    due.Int(row->due_ms);
    body.Text(row->body);
    open.Int(row->open_ms);
    ++puts;
  }
  if (puts == 0) return;
  Params p;
  for (const Array* a : {&kind, &id, &owner, &due, &body, &open}) p.Text(a->Encode());
  add("put_records", std::move(p), puts);
}

}  // namespace

WriteSetStatements StatementsFor(const WriteSet& set) {
  WriteSetStatements out;
  auto add = [&](const char* name, Params p, int64_t rows) {
    out.statements.push_back({name, std::move(p)});
    out.rows.push_back(rows);
  };
  if (!set.entries.empty()) {
    add("insert_entries", EntryArrays(set.entries), static_cast<int64_t>(set.entries.size()));
  }
  AddRecords(set, add);
  AddIdempotency(set, add);
  for (const auto& [key, v] : set.velocity) {
    add("put_velocity", Params().Text(v.rule).Text(v.key).Text(v.state).Int(v.updated_at_ms), -1);
  }
  if (!set.entry_states.empty()) {
    add("put_states", StateArrays(set.entry_states), static_cast<int64_t>(set.entry_states.size()));
  }
  return out;
}

}  // namespace pay::store::pg
