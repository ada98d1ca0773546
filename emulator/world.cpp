// Record identity, counts, timestamps, the change overlay, listing and truth.
#include "emulator/world.h"

#include <algorithm>
#include <cmath>

#include "emulator/dice.h"
#include "emulator/names.h"
#include "util/hash.h"
#include "util/strings.h"

namespace procore_emulator {
namespace {

constexpr int64_t kDayMs = 86'400'000;

struct PresetShape {
  std::vector<int> project_counts;
  int users, vendors, trades;
  double project_scale;  // multiplies StreamInfo::demo_records for project streams
  int64_t id_base;
  int project_bits, index_bits;
  int64_t company_id_base;
};

PresetShape ShapeOf(Preset preset) {
  switch (preset) {
    case Preset::kSmall:
      return {{3}, 40, 25, 15, 0.12, 1'000'000, 6, 16, 4'264'807};
    case Preset::kDemo:
      return {{40}, 800, 400, 40, 1.0, 1'000'000, 6, 16, 4'264'807};
    case Preset::kLarge:
      // Ids above 2^32, as Procore's newer regions hand out; all stay below 2^53 so JavaScript reads them
      // exactly.
      return {{600, 400}, 15000, 8000, 60, 1.4, int64_t{1} << 33, 11, 20, (int64_t{1} << 32) + 4'264'807};
  }
  return {};
}

}  // namespace

std::optional<Preset> ParsePreset(std::string_view name) {
  if (name == "small") return Preset::kSmall;
  if (name == "demo") return Preset::kDemo;
  if (name == "large") return Preset::kLarge;
  return std::nullopt;
}

std::string_view PresetName(Preset preset) {
  switch (preset) {
    case Preset::kSmall:
      return "small";
    case Preset::kDemo:
      return "demo";
    case Preset::kLarge:
      return "large";
  }
  return "small";
}

World::World(Preset preset, uint64_t seed) : preset_(preset), seed_(seed) {
  PresetShape shape = ShapeOf(preset);
  project_counts_ = shape.project_counts;
  base_project_counts_ = shape.project_counts;
  id_base_ = shape.id_base;
  project_bits_ = shape.project_bits;
  index_bits_ = shape.index_bits;
  project_scale_ = shape.project_scale;
  for (size_t slot = 0; slot < project_counts_.size(); ++slot) {
    CompanyData company;
    company.slot = static_cast<int>(slot);
    company.id = shape.company_id_base + static_cast<int64_t>(slot) * 1'000;
    company.name = CompanyName(seed, company.slot);
    companies_.push_back(std::move(company));
  }
}

const CompanyData* World::FindCompany(int64_t company_id) const {
  for (const auto& company : companies_)
    if (company.id == company_id) return &company;
  return nullptr;
}

std::vector<int64_t> World::ProjectIds(int company_slot) const {
  std::vector<int64_t> ids;
  ids.reserve(ProjectCount(company_slot));
  for (int i = 0; i < ProjectCount(company_slot); ++i) ids.push_back(ProjectId(company_slot, i));
  return ids;
}

int64_t World::IdFor(const StreamKey& key, int64_t index) const {
  int64_t group = static_cast<int64_t>(key.company_slot) * 32 + static_cast<int64_t>(key.stream);
  int64_t slot = (group << project_bits_) + (key.project_index + 1);
  return id_base_ + (slot << index_bits_) + index;
}

std::optional<ProjectRef> World::FindProject(int64_t project_id) const {
  int64_t rel = project_id - id_base_;
  if (rel < 0) return std::nullopt;
  int64_t index = rel & ((int64_t{1} << index_bits_) - 1);
  int64_t slot = rel >> index_bits_;
  if ((slot & ((int64_t{1} << project_bits_) - 1)) != 0) return std::nullopt;
  int64_t group = slot >> project_bits_;
  if (group % 32 != static_cast<int64_t>(Stream::kProjects)) return std::nullopt;
  int64_t company_slot = group / 32;
  if (company_slot < 0 || company_slot >= static_cast<int64_t>(companies_.size())) return std::nullopt;
  if (index >= ProjectCount(static_cast<int>(company_slot))) return std::nullopt;
  return ProjectRef{static_cast<int>(company_slot), static_cast<int>(index)};
}

int32_t World::BaseCount(const StreamKey& key) const {
  PresetShape shape = ShapeOf(preset_);
  switch (key.stream) {
    case Stream::kProjects:
      return base_project_counts_[static_cast<size_t>(key.company_slot)];
    case Stream::kCompanyUsers:
      return shape.users;
    case Stream::kVendors:
      return shape.vendors;
    case Stream::kTrades:
      return shape.trades;
    default:
      break;
  }
  double u = static_cast<double>(Mix({seed_, 1, key.Packed()}) % 1000) / 1000.0;
  double n = Info(key.stream).demo_records * project_scale_ * (0.5 + u);
  return std::max<int32_t>(1, static_cast<int32_t>(std::lround(n)));
}

int32_t World::Extent(const StreamKey& key) const {
  const KeyOverlay* overlay = Overlay(key);
  return BaseCount(key) + (overlay ? overlay->created : 0);
}

int64_t World::BaseUpdatedMs(const StreamKey& key, int32_t index, int32_t count) const {
  // Nondecreasing in index (each record sits in its own step of the span), so ranges can binary search.
  int64_t span_s = (kBaseEndMs - kBaseStartMs) / 1000;
  int64_t step = std::max<int64_t>(1, span_s / std::max<int32_t>(1, count));
  int64_t jitter = static_cast<int64_t>(Mix({seed_, 2, key.Packed(), static_cast<uint64_t>(index)}) %
                                        static_cast<uint64_t>(step));
  return kBaseStartMs + (static_cast<int64_t>(index) * step + jitter) * 1000;
}

bool World::BaseDeleted(const StreamKey& key, int32_t index) const {
  switch (Info(key.stream).delete_style) {
    case DeleteStyle::kSoft:
      return index % 29 == 17;
    case DeleteStyle::kDeactivate:
      return index % 23 == 11;
    default:
      return false;
  }
}

RecordState World::BaseRecord(const StreamKey& key, int32_t index) const {
  int32_t count = BaseCount(key);
  RecordState r;
  r.id = IdFor(key, index);
  r.index = index;
  r.updated_at_ms = BaseUpdatedMs(key, index, count);
  if (key.stream == Stream::kManpowerLogs) {
    r.created_at_ms = r.updated_at_ms;  // a log is entered on its day; dates stay monotone with ids
  } else {
    int64_t back_s = static_cast<int64_t>(Mix({seed_, 3, key.Packed(), static_cast<uint64_t>(index)}) %
                                          (uint64_t{60} * 86400));
    r.created_at_ms = r.updated_at_ms - back_s * 1000;
  }
  if (BaseDeleted(key, index)) r.deleted_at_ms = r.updated_at_ms;
  return r;
}

const World::KeyOverlay* World::Overlay(const StreamKey& key) const {
  auto it = overlay_.find(key.Packed());
  return it == overlay_.end() ? nullptr : &it->second;
}

std::optional<int32_t> World::IndexOf(const StreamKey& key, int64_t id) const {
  int64_t rel = id - IdFor(key, 0);
  if (rel < 0 || rel >= Extent(key)) return std::nullopt;
  return static_cast<int32_t>(rel);
}

std::optional<RecordState> World::Get(const StreamKey& key, int64_t id) const {
  auto index = IndexOf(key, id);
  if (!index) return std::nullopt;
  if (const KeyOverlay* overlay = Overlay(key)) {
    auto it = overlay->records.find(id);
    if (it != overlay->records.end()) return it->second;
  }
  if (*index < BaseCount(key)) return BaseRecord(key, *index);
  return std::nullopt;
}

bool World::Matches(const RecordState& r, const ListFilter& f) const {
  if (r.gone) return false;
  switch (f.deleted) {
    case ListFilter::Deleted::kExclude:
      if (r.deleted_at_ms != 0) return false;
      break;
    case ListFilter::Deleted::kOnly:
      if (r.deleted_at_ms == 0) return false;
      break;
    case ListFilter::Deleted::kWith:
      break;
  }
  if (f.updated_from_ms && r.updated_at_ms < *f.updated_from_ms) return false;
  if (f.updated_to_ms && r.updated_at_ms > *f.updated_to_ms) return false;
  int64_t day = r.created_at_ms / kDayMs;
  if (f.created_from_day && day < *f.created_from_day) return false;
  if (f.created_to_day && day > *f.created_to_day) return false;
  return true;
}

RecordPage World::List(const StreamKey& key, const ListFilter& filter, int64_t offset, int64_t limit) const {
  RecordPage page;
  auto take = [&](const RecordState& r) {
    if (page.total >= offset && page.total - offset < limit) page.records.push_back(r);
    ++page.total;
  };
  if (!filter.ids.empty()) {
    std::vector<int64_t> ids = filter.ids;
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (int64_t id : ids) {
      auto r = Get(key, id);
      if (r && Matches(*r, filter)) take(*r);
    }
    return page;
  }

  const int32_t count = BaseCount(key);
  // Narrow the base records by binary search: their updated_at (and manpower created_at) grow with the index.
  int32_t lo = 0, hi = count;
  auto first_index = [&](auto&& pred) {  // first index in [0, count) where pred holds (pred is monotone)
    int32_t a = 0, b = count;
    while (a < b) {
      int32_t m = a + (b - a) / 2;
      if (pred(m))
        b = m;
      else
        a = m + 1;
    }
    return a;
  };
  if (filter.updated_from_ms)
    lo = std::max(
        lo, first_index([&](int32_t i) { return BaseUpdatedMs(key, i, count) >= *filter.updated_from_ms; }));
  if (filter.updated_to_ms)
    hi = std::min(
        hi, first_index([&](int32_t i) { return BaseUpdatedMs(key, i, count) > *filter.updated_to_ms; }));
  if (key.stream == Stream::kManpowerLogs) {
    if (filter.created_from_day)
      lo = std::max(lo, first_index([&](int32_t i) {
                      return BaseUpdatedMs(key, i, count) / kDayMs >= *filter.created_from_day;
                    }));
    if (filter.created_to_day)
      hi = std::min(hi, first_index([&](int32_t i) {
                      return BaseUpdatedMs(key, i, count) / kDayMs > *filter.created_to_day;
                    }));
  }

  // Merge the base range with the overlay (which replaces base records it holds and adds created ones), by
  // id.
  static const std::map<int64_t, RecordState> kEmpty;
  const KeyOverlay* overlay = Overlay(key);
  const auto& changed = overlay ? overlay->records : kEmpty;
  auto oit = changed.begin();
  for (int32_t i = lo; i < hi; ++i) {
    int64_t id = IdFor(key, i);
    while (oit != changed.end() && oit->first < id) {
      if (Matches(oit->second, filter)) take(oit->second);
      ++oit;
    }
    if (oit != changed.end() && oit->first == id) continue;  // the overlay's version is emitted in order
    bool deleted = BaseDeleted(key, i);
    if (filter.deleted == ListFilter::Deleted::kExclude && deleted) continue;
    if (filter.deleted == ListFilter::Deleted::kOnly && !deleted) continue;
    if (page.total >= offset && page.total - offset < limit) page.records.push_back(BaseRecord(key, i));
    ++page.total;
  }
  for (; oit != changed.end(); ++oit)
    if (Matches(oit->second, filter)) take(oit->second);
  return page;
}

std::vector<AppliedChange> World::ApplyChanges(int company_slot, int count,
                                               const std::vector<Stream>& streams, uint64_t change_seed,
                                               int64_t now_ms) {
  std::vector<Stream> pool = streams;
  if (pool.empty()) pool.assign(AllStreams().begin(), AllStreams().end());
  Dice dice(Mix({seed_, 4, change_seed, static_cast<uint64_t>(company_slot), overlay_.size()}));
  int64_t at_ms = std::max({now_ms / 1000 * 1000, last_change_ms_, kBaseEndMs});
  last_change_ms_ = at_ms;

  std::vector<AppliedChange> applied;
  for (int n = 0; n < count; ++n) {
    Stream stream = pool[dice.Next() % pool.size()];
    const StreamInfo& info = Info(stream);
    StreamKey key{company_slot, stream, -1};
    if (!info.company_level) key.project_index = static_cast<int>(dice.Next() % ProjectCount(company_slot));
    KeyOverlay& overlay = overlay_[key.Packed()];

    int roll = static_cast<int>(dice.Next() % 10);
    std::string op = roll < 3 ? "create" : roll < 8 ? "update" : "delete";
    if (info.delete_style == DeleteStyle::kNever) op = "update";  // projects are only edited

    std::optional<RecordState> target;
    if (op != "create") {
      int32_t extent = BaseCount(key) + overlay.created;
      for (int attempt = 0; attempt < 24 && !target; ++attempt) {
        auto r = Get(key, IdFor(key, static_cast<int64_t>(dice.Next() % static_cast<uint64_t>(extent))));
        if (r && r->Live()) target = r;
      }
      if (!target) op = "create";
    }
    if (op == "create" && (int64_t{BaseCount(key)} + overlay.created) >= (int64_t{1} << index_bits_))
      continue;
    if (op == "create" && stream == Stream::kProjects) continue;

    RecordState r;
    std::string event_type = op;
    if (op == "create") {
      r.index = BaseCount(key) + overlay.created++;
      r.id = IdFor(key, r.index);
      r.created_at_ms = r.updated_at_ms = at_ms;
    } else {
      r = *target;
      r.updated_at_ms = at_ms;
      if (op == "update") {
        ++r.revision;
      } else {
        switch (info.delete_style) {
          case DeleteStyle::kHard:
            r.gone = true;
            break;
          case DeleteStyle::kSoft:
            r.deleted_at_ms = at_ms;
            break;
          case DeleteStyle::kDeactivate:
            r.deleted_at_ms = at_ms;
            ++r.revision;
            event_type = "update";  // Procore deactivates directory entries; they are edited, not deleted
            break;
          case DeleteStyle::kNever:
            break;
        }
      }
    }
    overlay.records[r.id] = r;
    applied.push_back({key, r, event_type});
  }
  return applied;
}

std::optional<AppliedChange> World::CreateProject(int company_slot, int64_t now_ms) {
  const int next = ProjectCount(company_slot);
  if (int64_t{next} + 2 >= (int64_t{1} << project_bits_)) return std::nullopt;
  const StreamKey key{company_slot, Stream::kProjects, -1};
  int64_t at_ms = std::max({now_ms / 1000 * 1000, last_change_ms_, kBaseEndMs});
  last_change_ms_ = at_ms;
  KeyOverlay& overlay = overlay_[key.Packed()];
  RecordState r;
  r.index = BaseCount(key) + overlay.created++;
  r.id = IdFor(key, r.index);
  r.created_at_ms = r.updated_at_ms = at_ms;
  overlay.records[r.id] = r;
  ++project_counts_[static_cast<size_t>(company_slot)];
  return AppliedChange{key, r, "create"};
}

std::vector<TruthEntry> World::Truth(int company_slot,
                                     const std::optional<std::set<int64_t>>& visible_projects,
                                     std::optional<Stream> only_stream, std::optional<int64_t> only_project,
                                     bool with_records) const {
  std::vector<TruthEntry> out;
  auto entry = [&](const StreamKey& key, std::optional<int64_t> project_id) {
    RecordPage all = List(key, ListFilter{}, 0, INT64_MAX);
    std::vector<std::string> lines;
    lines.reserve(all.records.size());
    for (const auto& r : all.records) {
      if (key.stream == Stream::kProjects && visible_projects && !visible_projects->count(r.id)) continue;
      lines.push_back(std::to_string(r.id) + ":" + kt::FormatIso8601(r.updated_at_ms));
    }
    std::sort(lines.begin(), lines.end());
    kt::Sha256 sha;
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) sha.Update("\n");
      sha.Update(lines[i]);
    }
    out.push_back({key.stream, project_id, static_cast<int64_t>(lines.size()), sha.FinishHex(), {}});
    if (with_records) out.back().lines = std::move(lines);
  };
  auto wanted = [&](Stream s) { return !only_stream || *only_stream == s; };
  if (!only_project)
    for (Stream s : AllStreams())
      if (Info(s).company_level && wanted(s)) entry({company_slot, s, -1}, std::nullopt);
  for (int p = 0; p < ProjectCount(company_slot); ++p) {
    if (only_project && *only_project != ProjectId(company_slot, p)) continue;
    for (Stream s : AllStreams())
      if (!Info(s).company_level && wanted(s)) entry({company_slot, s, p}, ProjectId(company_slot, p));
  }
  return out;
}

std::vector<int> World::AssignedProjects(int company_slot, Stream directory_stream, int32_t index) const {
  int n = ProjectCount(company_slot);
  uint64_t h = Mix({seed_, 5, static_cast<uint64_t>(company_slot), static_cast<uint64_t>(directory_stream),
                    static_cast<uint64_t>(index)});
  int k = std::min<int>(n, 1 + static_cast<int>(h % 3));
  std::vector<int> projects;
  Dice dice(h);
  while (static_cast<int>(projects.size()) < k) {
    int p = static_cast<int>(dice.Next() % static_cast<uint64_t>(n));
    if (std::find(projects.begin(), projects.end(), p) == projects.end()) projects.push_back(p);
  }
  std::sort(projects.begin(), projects.end());
  return projects;
}

}  // namespace procore_emulator
