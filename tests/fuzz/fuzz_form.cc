// Form bodies of the Stripe-compatible routes (adapters/server/form.h): any bytes give a form or
// an error, never a crash; a form holds at most kFormParamsMax names within their bounds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "adapters/server/form.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto form = pay::server::Form::Parse(in);
  if (!form) return 0;
  const auto names = form->Names();
  if (names.size() > pay::server::kFormParamsMax) __builtin_trap();
  for (const auto& name : names) {
    if (name.empty() || name.size() > pay::server::kFormNameBytesMax) __builtin_trap();
    auto value = form->Get(name);
    if (!value || value->size() > pay::server::kFormValueBytesMax) __builtin_trap();
    (void)form->Int(name);
    (void)form->Bool(name);
    (void)form->Under(name);
  }
  return 0;
}
