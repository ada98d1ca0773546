// The emulated Procore data: companies, projects and every stream's records. Base records are a pure function
// of (preset, seed, company, stream, project, index); creates, updates and deletes live in a small overlay.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "emulator/streams.h"

namespace procore_emulator {

enum class Preset { kSmall, kDemo, kLarge };
std::optional<Preset> ParsePreset(std::string_view name);
std::string_view PresetName(Preset preset);

// Which records of one stream: a company stream has project_index -1.
struct StreamKey {
  int company_slot = 0;
  Stream stream = Stream::kProjects;
  int project_index = -1;
  uint64_t Packed() const {
    return (static_cast<uint64_t>(company_slot) << 40) | (static_cast<uint64_t>(stream) << 32) |
           static_cast<uint64_t>(project_index + 1);
  }
};

// One record's state; its fields are generated from it (see records.h).
struct RecordState {
  int64_t id = 0;
  int32_t index = 0;     // ordinal within its StreamKey: fields that never change derive from it
  int32_t revision = 0;  // bumped by each update: fields that updates change derive from it
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  int64_t deleted_at_ms = 0;  // soft delete, or deactivation of users and vendors; 0 while live
  bool gone = false;          // hard deleted
  bool Live() const { return !gone && deleted_at_ms == 0; }
};

struct CompanyData {
  int slot = 0;
  int64_t id = 0;
  std::string name;
};

struct ProjectRef {
  int company_slot = 0;
  int index = 0;
};

struct ListFilter {
  std::optional<int64_t> updated_from_ms;  // inclusive
  std::optional<int64_t> updated_to_ms;    // inclusive
  enum class Deleted { kExclude, kOnly, kWith };
  Deleted deleted = Deleted::kExclude;
  std::optional<int64_t> created_from_day;  // manpower log dates: days since the epoch, inclusive
  std::optional<int64_t> created_to_day;
  std::vector<int64_t> ids;  // when non-empty: only these ids
};

struct RecordPage {
  int64_t total = 0;
  std::vector<RecordState> records;
};

struct AppliedChange {
  StreamKey key;
  RecordState record;
  std::string event_type;  // "create" | "update" | "delete" (deactivations are updates, as in Procore)
};

struct TruthEntry {
  Stream stream;
  std::optional<int64_t> project_id;
  int64_t count = 0;
  std::string checksum;
  std::vector<std::string> lines;  // "<id>:<updated_at>", sorted; only when asked for (records)
};

class World {
 public:
  World(Preset preset, uint64_t seed);

  Preset CurrentPreset() const { return preset_; }
  uint64_t Seed() const { return seed_; }
  const std::vector<CompanyData>& Companies() const { return companies_; }
  const CompanyData* FindCompany(int64_t company_id) const;
  std::optional<ProjectRef> FindProject(int64_t project_id) const;
  int ProjectCount(int company_slot) const { return project_counts_[static_cast<size_t>(company_slot)]; }
  int64_t ProjectId(int company_slot, int index) const {
    return IdFor({company_slot, Stream::kProjects, -1}, index);
  }
  std::vector<int64_t> ProjectIds(int company_slot) const;

  int64_t IdFor(const StreamKey& key, int64_t index) const;
  int32_t BaseCount(const StreamKey& key) const;
  // All records ever made in the key (base plus creates): indices [0, Extent) exist or existed.
  int32_t Extent(const StreamKey& key) const;

  // A record by id within its key (including deleted ones), or none when the id was never one of the key's.
  std::optional<RecordState> Get(const StreamKey& key, int64_t id) const;
  RecordState BaseRecord(const StreamKey& key, int32_t index) const;

  // Records in id order matching the filter: the total and the window [offset, offset + limit).
  RecordPage List(const StreamKey& key, const ListFilter& filter, int64_t offset, int64_t limit) const;

  // Creates, updates and deletes `count` records of the company, chosen from `streams` (all when empty) by
  // change_seed. Timestamps are at or after now_ms (whole seconds) and after every earlier change.
  std::vector<AppliedChange> ApplyChanges(int company_slot, int count, const std::vector<Stream>& streams,
                                          uint64_t change_seed, int64_t now_ms);

  // A new project in the company (as a user creating one in Procore): the next project index, created now,
  // with its project streams generated like every other project's. None when the company has no room left for
  // ids.
  std::optional<AppliedChange> CreateProject(int company_slot, int64_t now_ms);

  // Count and checksum of every stream of the company; projects limited to visible_projects when given.
  // Optionally only one stream and/or one project's streams, and with the checksummed lines (records).
  std::vector<TruthEntry> Truth(int company_slot, const std::optional<std::set<int64_t>>& visible_projects,
                                std::optional<Stream> only_stream = std::nullopt,
                                std::optional<int64_t> only_project = std::nullopt,
                                bool with_records = false) const;

  // Directory assignments: which projects a company user or vendor is on (drives fan-out and project
  // directories).
  std::vector<int> AssignedProjects(int company_slot, Stream directory_stream, int32_t index) const;

  // Picks of related records for generated fields.
  int32_t VendorCount(int company_slot) const { return BaseCount({company_slot, Stream::kVendors, -1}); }
  int32_t UserCount(int company_slot) const { return BaseCount({company_slot, Stream::kCompanyUsers, -1}); }

  // Base data spans [kBaseStartMs, kBaseEndMs); overlay changes are newer.
  static constexpr int64_t kBaseStartMs = 1672531200000;  // 2023-01-01T00:00:00Z
  static constexpr int64_t kBaseEndMs = 1767225600000;    // 2026-01-01T00:00:00Z

 private:
  struct KeyOverlay {
    std::map<int64_t, RecordState> records;  // by id
    int32_t created = 0;
  };
  int64_t BaseUpdatedMs(const StreamKey& key, int32_t index, int32_t count) const;
  bool BaseDeleted(const StreamKey& key, int32_t index) const;
  const KeyOverlay* Overlay(const StreamKey& key) const;
  bool Matches(const RecordState& r, const ListFilter& f) const;
  std::optional<int32_t> IndexOf(const StreamKey& key, int64_t id) const;

  Preset preset_;
  uint64_t seed_;
  std::vector<CompanyData> companies_;
  std::vector<int> project_counts_;  // base projects plus created ones
  std::vector<int>
      base_project_counts_;  // the preset's projects (their timestamps are spread over this count)
  int64_t id_base_ = 0;
  int project_bits_ = 0;
  int index_bits_ = 0;
  double project_scale_ = 1.0;
  std::unordered_map<uint64_t, KeyOverlay> overlay_;
  int64_t last_change_ms_ = 0;
};

}  // namespace procore_emulator
