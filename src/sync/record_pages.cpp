// record_pages rows: packing a page, loading and searching the packed indexes, the newest entry of a record.
//
// The index of a page: a 4-byte count n, then n entries of 32 bytes (ids ascending), then the entries'
// updated_at texts one after another. An entry: id (8 bytes), updated_at in ms (8), its body's offset and
// length in `bodies` (4 + 4), its updated_at's offset in the text area and length (4 + 2), deleted (1), and
// one unused byte. Numbers are little-endian, the byte order of every machine KTrack is built for (checked
// below); a node of another order would read the rows other nodes wrote wrongly.
#include "sync/record_pages.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace kt::sync::pages {
namespace {

static_assert(std::endian::native == std::endian::little, "record_pages indexes are little-endian");

constexpr size_t kHeader = 4;
constexpr size_t kEntry = 32;

template <class T>
T Read(const std::string& s, size_t at) {
  T v;
  std::memcpy(&v, s.data() + at, sizeof v);
  return v;
}

template <class T>
void Put(std::string& s, size_t at, T v) {
  std::memcpy(s.data() + at, &v, sizeof v);
}

}  // namespace

QueryFn QueryOf(store::Tx& tx) {
  return [&tx](std::string_view sql, const store::Params& params) { return tx.Query(sql, params); };
}

QueryFn QueryOf(store::Store& store) {
  return [&store](std::string_view sql, const store::Params& params) { return store.Query(sql, params); };
}

size_t Page::size() const {
  return index.size() < kHeader ? 0 : Read<uint32_t>(index, 0);
}

Entry Page::at(size_t i) const {
  const size_t base = kHeader + i * kEntry;
  const size_t text = kHeader + size() * kEntry;
  Entry e;
  e.id = Read<int64_t>(index, base);
  e.updated_at_ms = Read<int64_t>(index, base + 8);
  e.body_offset = Read<uint32_t>(index, base + 16);
  e.body_length = Read<uint32_t>(index, base + 20);
  const uint32_t ua_offset = Read<uint32_t>(index, base + 24);
  const uint16_t ua_length = Read<uint16_t>(index, base + 28);
  e.deleted = index[base + 30] != 0;
  e.updated_at = std::string_view(index).substr(text + ua_offset, ua_length);
  return e;
}

std::optional<size_t> Page::Find(int64_t id) const {
  size_t lo = 0, hi = size();
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    const int64_t at = Read<int64_t>(index, kHeader + mid * kEntry);
    if (at == id) return mid;
    if (at < id) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return std::nullopt;
}

Packed Pack(std::span<const IncomingRecord* const> records, std::span<const int64_t> updated_at_ms) {
  Packed out;
  const size_t n = records.size();
  size_t text = 0, bodies = 0;
  for (const IncomingRecord* r : records) {
    text += std::min<size_t>(r->updated_at.size(), 0xffff);
    bodies += r->json.size();
  }
  out.index.resize(kHeader + n * kEntry + text);
  out.bodies.reserve(bodies);
  Put<uint32_t>(out.index, 0, static_cast<uint32_t>(n));
  size_t text_at = 0;
  char* text_base = out.index.data() + kHeader + n * kEntry;
  for (size_t i = 0; i < n; ++i) {
    const IncomingRecord& r = *records[i];
    const std::string_view ua = r.updated_at.substr(0, 0xffff);
    const size_t base = kHeader + i * kEntry;
    Put<int64_t>(out.index, base, r.id);
    Put<int64_t>(out.index, base + 8, updated_at_ms[i]);
    Put<uint32_t>(out.index, base + 16, static_cast<uint32_t>(out.bodies.size()));
    Put<uint32_t>(out.index, base + 20, static_cast<uint32_t>(r.json.size()));
    Put<uint32_t>(out.index, base + 24, static_cast<uint32_t>(text_at));
    Put<uint16_t>(out.index, base + 28, static_cast<uint16_t>(ua.size()));
    out.index[base + 30] = r.deleted_at.empty() ? 0 : 1;
    out.index[base + 31] = 0;
    std::memcpy(text_base + text_at, ua.data(), ua.size());
    text_at += ua.size();
    out.bodies.append(r.json);
  }
  if (n) {
    out.min_id = records.front()->id;
    out.max_id = records.back()->id;
  }
  return out;
}

Status Insert(const QueryFn& q, const RecordScope& scope, int64_t pass_ms, int64_t seq, int64_t seen_ms,
              Packed packed) {
  // The record-write failure the sync tests inject keys on parameter 6 ($6, the page's first id).
  store::Params params{scope.client_id, scope.stream,  scope.project_id, pass_ms, seq,
                       packed.min_id,   packed.max_id, scope.company_id, seen_ms};
  // Moved in, not listed above: an initializer list would copy the page's bodies (about 90 KB) once more.
  params.emplace_back(store::Blob{std::move(packed.index)});
  params.emplace_back(store::Blob{std::move(packed.bodies)});
  auto r =
      q("INSERT INTO record_pages (client_id, stream, project_id, pass_ms, seq, min_id, max_id, company_id, "
        "seen_ms, idx, bodies) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
        "ON CONFLICT (client_id, stream, project_id, pass_ms, seq) DO UPDATE SET min_id = excluded.min_id, "
        "max_id = excluded.max_id, company_id = excluded.company_id, seen_ms = excluded.seen_ms, "
        "idx = excluded.idx, bodies = excluded.bodies",
        params);
  if (!r) return tl::unexpected(r.error());
  return {};
}

Result<std::vector<Page>> Load(const QueryFn& q, int64_t client_id, const std::string& stream,
                               std::optional<int64_t> project_id,
                               std::optional<std::pair<int64_t, int64_t>> range) {
  store::Params params;
  std::string where = ScopeWhere(params, client_id, stream, project_id);
  if (range) {
    params.emplace_back(range->second);
    where += " AND min_id <= $" + std::to_string(params.size());
    params.emplace_back(range->first);
    where += " AND max_id >= $" + std::to_string(params.size());
  }
  auto r = q("SELECT project_id, pass_ms, seq, seen_ms, idx FROM record_pages WHERE " + where +
                 " ORDER BY project_id, pass_ms, seq",
             params);
  if (!r) return tl::unexpected(r.error());
  std::vector<Page> out;
  out.reserve(r->rows.size());
  for (const auto& row : r->rows) {
    Page p;
    p.project_id = row.Int(0);
    p.pass_ms = row.Int(1);
    p.seq = row.Int(2);
    p.seen_ms = row.Int(3);
    p.index = row.Text(4);
    out.push_back(std::move(p));
  }
  return out;
}

Status Delete(const QueryFn& q, int64_t client_id, std::optional<int64_t> project_id,
              const std::optional<std::string>& stream, std::optional<int64_t> before_ms) {
  store::Params params;
  std::string where = ScopeWhere(params, client_id, stream, project_id);
  if (before_ms) {
    params.emplace_back(*before_ms);
    where += " AND pass_ms < $" + std::to_string(params.size());
  }
  auto r = q("DELETE FROM record_pages WHERE " + where, params);
  if (!r) return tl::unexpected(r.error());
  return {};
}

Result<std::string> Body(const QueryFn& q, int64_t client_id, const std::string& stream, const Page& page,
                         const Entry& entry) {
  auto r =
      q("SELECT substr(bodies, CAST($6 AS INTEGER), CAST($7 AS INTEGER)) FROM record_pages WHERE client_id = "
        "$1 "
        "AND stream = $2 AND project_id = $3 AND pass_ms = $4 AND seq = $5",
        {client_id, stream, page.project_id, page.pass_ms, page.seq, int64_t{entry.body_offset} + 1,
         int64_t{entry.body_length}});
  if (!r) return tl::unexpected(r.error());
  if (r->rows.empty()) return std::string();
  return r->rows[0].Text(0);
}

Result<std::string> Bodies(const QueryFn& q, int64_t client_id, const std::string& stream, const Page& page) {
  auto r =
      q("SELECT bodies FROM record_pages WHERE client_id = $1 AND stream = $2 AND project_id = $3 AND "
        "pass_ms = $4 AND seq = $5",
        {client_id, stream, page.project_id, page.pass_ms, page.seq});
  if (!r) return tl::unexpected(r.error());
  if (r->rows.empty()) return std::string();
  return r->rows[0].Text(0);
}

std::vector<Best> Newest(const std::vector<Page>& pages) {
  struct Ref {
    int64_t project_id;
    int64_t id;
    uint32_t page;
    uint32_t index;
  };
  std::vector<Ref> refs;
  size_t total = 0;
  for (const Page& p : pages) total += p.size();
  refs.reserve(total);
  for (size_t pi = 0; pi < pages.size(); ++pi) {
    const Page& p = pages[pi];
    for (size_t i = 0, n = p.size(); i < n; ++i) {
      refs.push_back({p.project_id, Read<int64_t>(p.index, kHeader + i * kEntry), static_cast<uint32_t>(pi),
                      static_cast<uint32_t>(i)});
    }
  }
  // Pages come in (project, pass, seq) order with ids ascending in each, so one page alone is sorted already.
  if (pages.size() > 1) {
    std::stable_sort(refs.begin(), refs.end(), [](const Ref& a, const Ref& b) {
      return a.project_id != b.project_id ? a.project_id < b.project_id : a.id < b.id;
    });
  }
  std::vector<Best> out;
  out.reserve(refs.size());
  for (const Ref& ref : refs) {
    const Page& page = pages[ref.page];
    const Entry e = page.at(ref.index);
    const bool same = !out.empty() && out.back().project_id == ref.project_id && out.back().id == ref.id;
    if (!same) {
      out.push_back({ref.project_id, ref.id, &page, ref.index, e.deleted ? 0 : page.seen_ms});
      continue;
    }
    Best& best = out.back();
    if (!e.deleted) best.live_seen_ms = std::max(best.live_seen_ms, page.seen_ms);
    const Entry b = best.entry();
    // UpsertRecords' rule with the pages taken in the order they were read (pass, then page: the order they
    // come in): a newer version wins; at the same version, a change between live and deleted does (the later
    // observation), and otherwise the copy first stored stays.
    const bool newer =
        e.updated_at_ms > b.updated_at_ms || (e.updated_at_ms == b.updated_at_ms && e.deleted != b.deleted);
    if (newer) {
      best.page = &page;
      best.index = ref.index;
    }
  }
  return out;
}

}  // namespace kt::sync::pages
