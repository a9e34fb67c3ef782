// Names of the engine's closed enums (operations, channels), as stored and as channels print
// them.

#include "pay/engine.h"

namespace pay {

std::string_view OperationName(Operation op) {
  switch (op) {
    case Operation::kCreateAccount: return "create_account";
    case Operation::kTransfer: return "transfer";
    case Operation::kPostPending: return "post";
    case Operation::kVoidPending: return "void";
    case Operation::kReverse: return "reverse";
    case Operation::kCreateMerchant: return "create_merchant";
    case Operation::kAuthorize: return "authorize";
    case Operation::kIncrement: return "increment";
    case Operation::kCapture: return "capture";
    case Operation::kVoidPayment: return "void_payment";
    case Operation::kRefund: return "refund";
    case Operation::kFund: return "fund";
    case Operation::kPush: return "push";
    case Operation::kP2p: return "p2p";
  }
  return "unknown";
}

Result<Operation> ParseOperation(std::string_view name, std::string_view field) {
  for (Operation op : {Operation::kCreateAccount, Operation::kTransfer, Operation::kPostPending,
                       Operation::kVoidPending, Operation::kReverse, Operation::kCreateMerchant,
                       Operation::kAuthorize, Operation::kIncrement, Operation::kCapture,
                       Operation::kVoidPayment, Operation::kRefund, Operation::kFund,
                       Operation::kPush, Operation::kP2p}) {
    if (name == OperationName(op)) return op;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   std::string(field) + ": '" + std::string(name.substr(0, 32)) +
                       "' is not an operation (create_account, transfer, post, void, reverse, "
                       "create_merchant, authorize, increment, capture, void_payment, refund, fund, push, p2p)");
}

std::string_view ChannelName(Channel c) {
  switch (c) {
    case Channel::kLibrary: return "library";
    case Channel::kCli: return "cli";
    case Channel::kServer: return "server";
    case Channel::kReplay: return "replay";
    case Channel::kMcp: return "mcp";
  }
  return "unknown";
}

Result<Channel> ParseChannel(std::string_view name, std::string_view field) {
  for (Channel c : {Channel::kLibrary, Channel::kCli, Channel::kServer, Channel::kReplay,
                    Channel::kMcp}) {
    if (name == ChannelName(c)) return c;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   std::string(field) + ": '" + std::string(name.substr(0, 32)) +
                       "' is not a channel (library, cli, server, replay, mcp)");
}

}  // namespace pay
