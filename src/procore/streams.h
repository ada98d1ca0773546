// The 16 data streams KTrack syncs and how each is read from Procore: path, scope, page size, filters,
// the tool that guards it and its webhook resource (procore-api.md §7-§8 and the contract files).
#pragma once

#include <span>
#include <string_view>

#include "procore/errors.h"

namespace kt::procore {

enum class ListShape { kV1Array, kV2Data };

struct StreamEndpoint {
  std::string_view key;  // interfaces.md stream key
  Scope scope = Scope::kCompany;
  // List path with placeholders {company_id}, {project_id} and {parent_id} (budget view).
  std::string_view list_path = {};
  std::string_view scope_param = {};  // query parameter carrying the scope ("company_id"/"project_id"), or ""
  // One record: placeholders as above plus {id}; the scope parameter is added as for the list. "" if none.
  std::string_view record_path = {};
  int max_per_page = 100;          // the per_page KTrack asks for
  bool updated_at_filter = false;  // filters[updated_at]=A...B
  bool include_deleted = false;    // filters[include_deleted]=with
  bool date_range = false;         // start_date/end_date (daily logs return only today without them)
  std::string_view tool = {};      // the Procore tool whose permission guards it
  std::string_view webhook_resource =
      {};                             // Webhooks API resource name, "" when there is none to subscribe to
  std::string_view noun = {};         // for messages ("RFI")
  std::string_view extra_query = {};  // fixed query parameters ("filters[status]=all"), "" when none
  bool needs_parent = false;          // budget_detail_rows: needs a budget view id
  ListShape shape = ListShape::kV1Array;
};

// All streams, in interfaces.md order.
std::span<const StreamEndpoint> StreamEndpoints();
// The stream with this key, or nullptr.
const StreamEndpoint* FindStream(std::string_view key);

}  // namespace kt::procore
