// Inbox inserts with ON CONFLICT DO NOTHING on (client_id, event_key), and the processing job queued
// alongside.
#include "sync/inbox.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace kt::sync {
namespace {

std::string RenderEvent(const WebhookEvent& e) {
  nlohmann::json j = {{"payload_version", e.payload_version},
                      {"event_key", e.event_key},
                      {"timestamp", e.timestamp},
                      {"resource_name", e.resource_name},
                      {"event_type", e.event_type},
                      {"resource_id", e.resource_id},
                      {"company_id", e.company_id}};
  j["project_id"] = e.project_id ? nlohmann::json(*e.project_id) : nlohmann::json();
  if (e.event_id) j["id"] = e.event_id;
  if (e.user_id) j["user_id"] = *e.user_id;
  if (e.source_application_id) j["source_application_id"] = *e.source_application_id;
  return j.dump();
}

}  // namespace

Inbox::Inbox(store::Store& store, queue::Queue& queue, Clock& clock, InboxOptions options)
    : store_(store), queue_(queue), clock_(clock), options_(options) {}

Status Inbox::QueueProcessing(store::Tx& tx, queue::Queue& queue, int64_t client_id, int64_t run_at_ms,
                              int64_t priority, char slot) {
  queue::EnqueueOptions options;
  options.run_at_ms = run_at_ms;
  options.priority = priority;
  options.client_id = client_id;
  options.max_attempts = 20;
  options.dedupe_key = std::string(kWebhookJob) + ":" + std::to_string(client_id) + ":" + slot;
  nlohmann::json payload = {{"client_id", client_id}, {"slot", std::string(1, slot)}};
  auto id = queue.Enqueue(tx, kWebhookJob, payload.dump(), options);
  if (!id) return tl::unexpected(id.error());
  return {};
}

Result<AcceptResult> Inbox::Accept(int64_t client_id, const WebhookEvent& event, std::string_view raw_body) {
  if (client_id <= 0 || event.event_key.empty() || event.resource_name.empty()) {
    return Fail(ErrorKind::kInvalidInput, "invalid_webhook_event", "The webhook event is incomplete.");
  }
  PendingAccept mine;
  mine.client_id = client_id;
  mine.event = &event;
  mine.payload = raw_body.empty() ? RenderEvent(event) : std::string(raw_body);

  std::unique_lock lock(group_mu_);
  waiting_.push_back(&mine);
  while (!mine.done) {
    if (committing_) {
      group_cv_.wait(lock);
      continue;
    }
    // Lead: commit everything waiting (this call's event, unless an earlier leader already took it).
    committing_ = true;
    std::vector<PendingAccept*> batch;
    batch.swap(waiting_);
    lock.unlock();
    CommitBatch(batch);
    lock.lock();
    for (PendingAccept* p : batch) p->done = true;
    committing_ = false;
    group_cv_.notify_all();
  }
  lock.unlock();
  if (mine.result && !mine.result->duplicate) Wake(options_.coalesce_window);
  return std::move(mine.result);
}

Status Inbox::InsertAll(store::Tx& tx, const std::vector<PendingAccept*>& batch, int64_t now) {
  std::vector<int64_t> queue_for;  // clients with a new event, each queued once
  for (PendingAccept* p : batch) {
    const WebhookEvent& event = *p->event;
    store::Value project = event.project_id ? store::Value(*event.project_id) : store::Value(nullptr);
    store::Value app =
        event.source_application_id ? store::Value(*event.source_application_id) : store::Value(nullptr);
    auto r = tx.Query(
        "INSERT INTO webhook_inbox (client_id, event_key, payload_version, resource_name, event_type, "
        "resource_id, company_id, project_id, source_application_id, event_at_ms, payload, received_at, "
        "status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'pending') "
        "ON CONFLICT (client_id, event_key) DO NOTHING RETURNING id",
        {p->client_id, event.event_key, event.payload_version, event.resource_name, event.event_type,
         event.resource_id, event.company_id, project, app, event.timestamp_ms, p->payload, now});
    if (!r) return tl::unexpected(r.error());
    AcceptResult result;
    if (r->rows.empty()) {
      result.duplicate = true;  // stored before, or earlier in this batch (a redelivery racing the first)
    } else {
      result.inbox_id = r->rows[0].Int(0);
      if (std::find(queue_for.begin(), queue_for.end(), p->client_id) == queue_for.end())
        queue_for.push_back(p->client_id);
    }
    p->result = result;
  }
  for (int64_t client_id : queue_for) {
    if (auto s = QueueProcessing(tx, queue_, client_id, now + options_.coalesce_window.count(),
                                 options_.job_priority);
        !s)
      return s;
  }
  return {};
}

void Inbox::CommitBatch(const std::vector<PendingAccept*>& batch) {
  const int64_t now = clock_.NowUnixMs();
  Status s = store_.Transact([&](store::Tx& tx) { return InsertAll(tx, batch, now); });
  if (s) return;
  if (batch.size() == 1) {
    batch[0]->result = tl::unexpected(s.error());
    return;
  }
  // Something in the batch failed: store each event alone so only the failing one is refused.
  for (PendingAccept* p : batch) {
    const std::vector<PendingAccept*> one{p};
    Status alone = store_.Transact([&](store::Tx& tx) { return InsertAll(tx, one, now); });
    if (!alone) p->result = tl::unexpected(alone.error());
  }
}

Result<int64_t> Inbox::PurgeProcessed(int64_t processed_before_ms) {
  return store_.Exec("DELETE FROM webhook_inbox WHERE status <> 'pending' AND processed_at < $1",
                     {processed_before_ms});
}

Result<InboxCounts> Inbox::Counts(int64_t client_id) {
  auto r = store_.Query("SELECT status, count(*) FROM webhook_inbox WHERE client_id = $1 GROUP BY status",
                        {client_id});
  if (!r) return tl::unexpected(r.error());
  InboxCounts out;
  for (const auto& row : r->rows) {
    std::string status = row.Text(0);
    if (status == "pending") out.pending = row.Int(1);
    if (status == "done") out.done = row.Int(1);
    if (status == "dropped") out.dropped = row.Int(1);
  }
  return out;
}

}  // namespace kt::sync
