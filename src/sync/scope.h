// What the sync engine is asked to keep in step: the streams of a client's company and linked projects, and
// the mapping from the settings' domains (product.md) and from webhook resource names to stream keys.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kt::sync {

// The streams a set of domains selects, split by level. `projects` is always included.
struct DomainStreams {
  std::vector<std::string> company_streams;  // projects, company_users, vendors, trades
  std::vector<std::string> project_streams;  // the rest, one set per linked project
};

// Maps product.md's domains ("directory", "cost_codes", "budget", "commitments", "prime_contracts",
// "change_events", "direct_costs", "rfis", "submittals", "daily_logs") to stream keys. Unknown domains are
// ignored (the integration validates settings); the output is in interfaces.md's stream order, without
// duplicates.
DomainStreams StreamsForDomains(const std::vector<std::string>& domains);

// Why a project's streams wait for the customer (permissions drift: the project no longer permitted, a tool
// switched off, a permission lowered), shown as the paused streams' error.
struct PauseReason {
  std::string code;
  std::string message;
  std::string fix;
};

struct ScopedProject {
  int64_t project_id = 0;
  std::string name;                  // for messages ("project 'Tower A'")
  std::vector<std::string> streams;  // project stream keys
  // Set: the project's streams pause with this as their error instead of failing in a loop (their data is
  // kept). A later scope without it resumes them.
  std::optional<PauseReason> paused;
};

// Everything one client syncs. Streams of the client not named here are paused (their data is kept).
struct SyncScope {
  int64_t client_id = 0;
  int64_t company_id = 0;
  std::vector<std::string> company_streams;
  std::vector<ScopedProject> projects;
  // Reconciliation interval (the settings' reconcile_interval_s); 0 keeps the current one (default 1 hour).
  int64_t reconcile_interval_s = 0;
};

// The stream a webhook resource name belongs to, or nullopt when KTrack does not sync it. Directory fan-out
// resources ("Project Users", "Project Vendors") map to the company streams whose records they announce.
std::optional<std::string> StreamForWebhookResource(std::string_view resource_name);
// True for resources whose events announce a change to a company directory record seen from a project
// (fan-out): their event type says nothing about the company record, which is always re-read.
bool IsDirectoryFanOutResource(std::string_view resource_name);

// True when the stream is a company-level stream (projects, company_users, vendors, trades).
bool IsCompanyStream(std::string_view stream);

}  // namespace kt::sync
