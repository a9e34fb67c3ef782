#pragma once
// Every kind of RecordRow (core/store.h) in one place. The numbers are stored: never renumber,
// never reuse. The store indexes kind, id, owner and due time; the body belongs to the module
// named here.

#include <cstdint>

namespace pay::store {

// The engine's database.
inline constexpr int32_t kPaymentRecord = 10;   // rails/payments: id payment id, owner merchant,
                                                // due: expiry of an open authorization
inline constexpr int32_t kOutboxRecord = 11;    // rails/payments: a queued network advice; id a
                                                // 12-digit sequence, owner the payment id
inline constexpr int32_t kSettleRecord = 12;    // rails/payments: id payment id, captured and
                                                // not yet settled (empty body)
inline constexpr int32_t kCounterRecord = 13;   // rails/payments: id the counter's name
inline constexpr int32_t kMerchantRecord = 14;  // rails/payments: id merchant id
// 15: retired. Open-exchange markers (id payment id, body opened at) were moved onto the
// payment's row (RecordRow::open_ms) by schema version 5; the number is not reused.
inline constexpr int32_t kEventRecord = 16;    // rails/payments/events: id 16 digits (partition
                                                // and sequence), owner merchant, due: end of
                                                // retention
inline constexpr int32_t kApiKeyRecord = 20;    // adapters/server: id the key id, owner merchant
inline constexpr int32_t kWebhookEndpointRecord = 21;  // adapters/server/webhooks: id we_...,
                                                       // owner merchant
inline constexpr int32_t kWebhookRetryRecord = 22;     // id endpoint/event, owner endpoint,
                                                       // due: the next attempt
inline constexpr int32_t kWebhookLogRecord = 23;       // id endpoint/time/event/attempt, owner
                                                       // endpoint, due: end of retention
inline constexpr int32_t kWebhookLeaseRecord = 24;     // id "webhooks", body who delivers, due until when

// The issuer simulator's own database (adapters/network/issuer.cc), never the engine's.
inline constexpr int32_t kIssuerPaymentRecord = 1;
inline constexpr int32_t kIssuerMessageRecord = 2;
inline constexpr int32_t kIssuerDeferredRecord = 3;  // id RRN; due: when the credit posts

}  // namespace pay::store
