// Procore's JSON for each stream's records, generated from a RecordState (field names and types per the
// contract).
#pragma once

#include <string>

#include "emulator/json_writer.h"
#include "emulator/world.h"

namespace procore_emulator {

enum class RecordView {
  kList,  // as list endpoints return it
  kShow,  // as the single-record endpoint returns it (projects carry more fields there)
};

void WriteRecord(JsonWriter& w, const World& world, const StreamKey& key, const RecordState& record,
                 RecordView view = RecordView::kList);

// The name list endpoints sort by (sort=name): projects, company users, vendors, trades.
std::string SortName(const World& world, const StreamKey& key, const RecordState& record);

// "2026-01-31" and "2026-01-31T12:00:00Z" from unix milliseconds.
std::string DateOf(int64_t unix_ms);
std::string TimeOf(int64_t unix_ms);

// The emulator's project-level Budget view (one per project), referenced by budget_views and detail rows.
int64_t BudgetViewId(const World& world, int company_slot, int project_index);

}  // namespace procore_emulator
