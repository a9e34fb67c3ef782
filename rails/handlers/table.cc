// The handler table: one overload per request type. std::visit picks the overload of the
// request's type, so a request type added to pay::Request without a line here does not compile.

#include "rails/handlers/handlers.h"

namespace pay::handlers {

namespace {

struct Table {
  const Handler& operator()(const CreateAccountRequest&) const { return CreateAccount(); }
  const Handler& operator()(const TransferRequest&) const { return Transfer(); }
  const Handler& operator()(const PostRequest&) const { return PostPending(); }
  const Handler& operator()(const VoidRequest&) const { return VoidPending(); }
  const Handler& operator()(const ReverseRequest&) const { return Reverse(); }
  const Handler& operator()(const CreateMerchantRequest&) const { return CreateMerchant(); }
  const Handler& operator()(const AuthorizeRequest&) const { return Authorize(); }
  const Handler& operator()(const IncrementRequest&) const { return Increment(); }
  const Handler& operator()(const CaptureRequest&) const { return Capture(); }
  const Handler& operator()(const VoidPaymentRequest&) const { return VoidPayment(); }
  const Handler& operator()(const RefundRequest&) const { return Refund(); }
  const Handler& operator()(const FundRequest&) const { return Fund(); }
  const Handler& operator()(const PushRequest&) const { return Push(); }
  const Handler& operator()(const P2pRequest&) const { return P2p(); }
};

}  // namespace

const Handler& HandlerFor(const Request& request) { return std::visit(Table{}, request); }

}  // namespace pay::handlers

namespace pay {

Operation OperationOf(const Request& request) {
  return handlers::HandlerFor(request).operation();
}

}  // namespace pay
