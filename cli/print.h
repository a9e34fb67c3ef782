// paymentctl's printing, shared by every command group: JSON (--json: one object on stdout) or
// text for people, errors, and the exit status.
//
// Exit status: 0 success (a network decline is a result, 0), 2 invalid input or usage (an error
// whose advice is "fix the input"), 1 any other error (a refusal by the books, a failed verify).

#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "cli/context.h"
#include "pay/engine.h"

namespace pay::cli {

int ExitCodeFor(const Error& e);

// Prints `e` (JSON on stdout with --json, else one line on stderr); returns its exit status.
int PrintError(const Context& ctx, const Error& e);

// The same error, naming `field` (the CLI's option) instead of the library's field name.
Error Refield(Error e, const std::string& field);

// A decimal amount of `minor` units in currency `c` (exponent 0 when c is null).
std::string Decimal(int64_t minor, const Currency* c);

// A string or integer field of a flat JSON object ("" or 0 when absent).
std::string JsonText(std::string_view json, std::string_view name);
int64_t JsonInt(std::string_view json, std::string_view name);

// A payment as text; the second form shows the status and response code a command answered.
void PrintPaymentText(const PaymentView& payment);
void PrintPaymentText(const PaymentView& payment, std::string_view status, std::string_view code);

// What a read answered: the error, or the account/entry as JSON or text. Return the exit status.
int EmitAccount(const Context& ctx, const Result<ledger::Account>& r);
int EmitEntry(const Context& ctx, const Result<ledger::Entry>& r);

// What a money-moving command answered. JSON: the stored body, with "replayed" put in front (the
// body's own bytes follow unchanged). Text: the entry, or the body, or the decline (exit 1).
int EmitOutcome(Context& ctx, const Result<Outcome>& r);

// What a card command answered. A network decline is a result (exit 0); a refusal by the books
// (illegal transition, refund over the captured amount, ...) exits 1.
int EmitPayment(Context& ctx, const Result<Outcome>& r);

// The note printed above a text answer that an idempotency key replayed.
inline constexpr const char* kReplayNote =
    "(idempotent replay: this key was answered before; nothing moved)";

}  // namespace pay::cli
