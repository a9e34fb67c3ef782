#pragma once
// The operations dashboard of paymentd (docs/dashboard.md): a page, its script and its style,
// embedded in the binary (cmake/embed_assets.cmake turns adapters/server/dashboard/ into
// dashboard_assets.cc), and the admin reads it draws from beside the rest of the API.
//
// The page holds no data: it asks the API for everything with an admin key the operator pastes
// (kept in the tab's sessionStorage), so its routes are public and the data routes are admin.

#include <cstddef>
#include <string_view>

#include "adapters/server/router.h"

namespace pay::server {

struct DashboardAsset {
  std::string_view name;          // "index.html", "dashboard.js", ...
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view body;
};
extern const DashboardAsset kDashboardAssets[];
extern const size_t kDashboardAssetCount;

// GET /dashboard (the page) and GET /dashboard/{file} (its script and style); no key.
Router DashboardPageRoutes();

// Admin reads (403 for a merchant key):
//   GET /v1/admin/dashboard      aggregates over a bounded scan of the payments (the first
//                                kDashboardScanMax in id order; "truncated" says when there
//                                are more), the merchants with their balances
//   GET /v1/ledger/verify        what `paymentctl ledger verify` reports
//   GET /v1/ledger/entries/{id}  one ledger entry (a payment's history names them)
Router DashboardApiRoutes();

// At most this many payments are read for one summary (in pages of kListRowsMax).
inline constexpr size_t kDashboardScanMax = 50'000;
// At most this many merchants are listed with their balances.
inline constexpr size_t kDashboardMerchantsMax = 200;

}  // namespace pay::server
