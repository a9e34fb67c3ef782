// paymentctl's command groups. Each group registers its subcommands on the root app from one
// function; each subcommand has its own options struct and a run function that main calls once
// the command line parsed (with what the subcommand `Needs` opened first). CLI11 is slow to
// compile, so only main.cc, commands.cc and the group files include it.
//
//   ledger_commands.cc   init, account, transfer, entry, ledger, idempotency, velocity
//   card_commands.cc     merchant, authorize, increment, capture, void, refund, payment, settle
//   push_commands.cc     fund, push, p2p
//   file_commands.cc     replay, generate, demo
//   server_commands.cc   serve, network-sim, apikey
//   mcp_commands.cc      mcp

#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/context.h"

namespace CLI {
class App;
}

namespace pay::cli {

void AddLedgerCommands(CLI::App& app, Context& ctx);
void AddCardCommands(CLI::App& app, Context& ctx);
void AddPushCommands(CLI::App& app, Context& ctx);
void AddFileCommands(CLI::App& app, Context& ctx);
void AddServerCommands(CLI::App& app, Context& ctx);
void AddEventCommands(CLI::App& app, Context& ctx);
void AddMcpCommands(CLI::App& app, Context& ctx);

// Makes `sub` a runnable subcommand: when the command line chose it, main opens what `needs`
// says and then calls `run`, whose return value is the exit status.
void OnRun(CLI::App* sub, Context& ctx, Needs needs, std::function<int(Context&)> run);

// --after and --limit of a list command (account list, merchant list, payment list).
struct ListOptions {
  std::string after;
  size_t limit = 100;
};
// A payment's notes from the command line: --description and --meta KEY=VALUE (repeatable).
struct NotesOptions {
  std::string description;
  std::vector<std::string> meta;
};
void AddNotesOptions(CLI::App* sub, NotesOptions& o);
// KEY=VALUE strings as pairs; kInvalidArgument naming `option` for one without a key or '='.
Result<std::vector<std::pair<std::string, std::string>>> ParsePairs(const std::vector<std::string>& pairs,
                                                                    std::string_view option);
Result<PaymentNotes> NotesOf(const NotesOptions& o);

// Adds --after (`after_help` says what it names) and --limit (1..10000) bound to `o`.
void AddListOptions(CLI::App* sub, ListOptions& o, const char* after_help);

// The global options a subcommand's help lists (space-separated names of the root's options).
inline constexpr std::string_view kReadOptions = "--db --json";
inline constexpr std::string_view kWriteOptions =
    "--db --json --merchant --config --idempotency-retention --durability";
inline constexpr std::string_view kNetworkOptions =
    "--network --network-faults --network-deadline --card-key-file --authorization-validity "
    "--exchange-grace";

// Sets `sub`'s help footer: `notes` (may be empty), its examples (one: "Example: ..."; more:
// "Examples:" and one a line), and the global options it uses, named in `globals` (one or more
// of the constants above or option names, space-separated), with the root's descriptions.
// Call after main added the global options.
void Help(CLI::App* sub, const std::vector<std::string>& examples,
          const std::vector<std::string_view>& globals, std::string_view notes = "");

}  // namespace pay::cli
