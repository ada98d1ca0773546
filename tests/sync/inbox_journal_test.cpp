// The inbox's journal: records read back (a damaged or cut one skipped), segments removed once stored, only a
// gone process's segments recovered; and the inbox with a journal: answered at the append, stored once each,
// stored after the database refused for a while, and stored at the next start after a stop that could not.
#include "sync/inbox_journal.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <span>
#include <sstream>
#include <thread>
#include <vector>

#include "process.h"
#include "queue/queue.h"
#include "store/migrations.h"
#include "store/store.h"
#include "sync/inbox.h"
#include "util/clock.h"
#include "util/random.h"

namespace kt::sync::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::set<std::string> JournalFiles(const std::string& dir) {
  std::set<std::string> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) files.insert(entry.path().string());
  return files;
}

// A Procore v2.0 delivery whose ulid is built from `n`.
std::string Body(int n, int64_t resource_id = 11) {
  const std::string digits = std::to_string(n);
  const std::string ulid = "01JD" + std::string(22 - digits.size(), '0') + digits;
  return R"({"id":)" + std::to_string(1000 + n) + R"(,"ulid":")" + ulid +
         R"(","timestamp":"2026-11-30T10:00:00.000000Z","resource_name":"RFIs",)" +
         R"("event_type":"update","resource_id":)" + std::to_string(resource_id) +
         R"(,"company_id":1,"project_id":5,"api_version":"v2.0"})";
}

TEST(InboxJournal, RecordsAreReadBackAndADamagedOrCutOneIsSkipped) {
  kt::testing::TempDir dir;
  InboxJournal journal(dir.path());
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(journal.Append(40 + i, "body " + std::to_string(i)));
  ASSERT_EQ(journal.SegmentPaths().size(), 1u);
  const std::string data = ReadFile(journal.SegmentPaths()[0]);

  auto records = InboxJournal::ParseRecords(data);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].client_id, 41);
  EXPECT_EQ(records[2].body, "body 3");

  std::string damaged = data;
  damaged[damaged.find("body 2") + 5] = 'X';  // the second record's checksum fails
  records = InboxJournal::ParseRecords(damaged);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].body, "body 1");
  EXPECT_EQ(records[1].body, "body 3");

  records = InboxJournal::ParseRecords(damaged.substr(0, damaged.size() - 3));  // the third cut short
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].body, "body 1");
  EXPECT_TRUE(InboxJournal::ParseRecords("").empty());
}

// Many deliveries go to the journal with one call (more than one writev takes), read back whole and in order.
TEST(InboxJournal, ManyRecordsAppendedTogetherAreReadBackInOrder) {
  kt::testing::TempDir dir;
  InboxJournal journal(dir.path());
  const size_t count = 2 * InboxJournal::kEntriesPerWrite + 7;
  std::vector<std::string> bodies;
  std::vector<InboxJournal::Entry> entries;
  for (size_t i = 0; i < count; ++i) bodies.push_back("body " + std::to_string(i));
  for (size_t i = 0; i < count; ++i) entries.push_back({static_cast<int64_t>(100 + i), bodies[i]});
  auto segment = journal.Append(entries);
  ASSERT_TRUE(segment) << segment.error().message;
  ASSERT_EQ(journal.SegmentPaths().size(), 1u);
  auto records = InboxJournal::ParseRecords(ReadFile(journal.SegmentPaths()[0]));
  ASSERT_EQ(records.size(), count);
  for (size_t i = 0; i < count; ++i) {
    EXPECT_EQ(records[i].client_id, static_cast<int64_t>(100 + i));
    EXPECT_EQ(records[i].body, bodies[i]);
  }
  EXPECT_TRUE(journal.Append(std::span<const InboxJournal::Entry>()));
}

TEST(InboxJournal, ASegmentIsRemovedOnceItsEventsAreStoredAndAppendsGoElsewhere) {
  kt::testing::TempDir dir;
  {
    InboxJournal journal(dir.path(), /*segment_bytes=*/100);
    auto first = journal.Append(1, std::string(90, 'a'));
    auto second = journal.Append(1, std::string(90, 'b'));  // the first segment is full: a new one
    ASSERT_TRUE(first && second);
    EXPECT_NE(*first, *second);
    auto paths = journal.SegmentPaths();
    ASSERT_EQ(paths.size(), 2u);
    EXPECT_EQ(JournalFiles(dir.path()), std::set<std::string>(paths.begin(), paths.end()));

    journal.Stored(*first);
    EXPECT_EQ(JournalFiles(dir.path()), std::set<std::string>{paths[1]});
    journal.Stored(*second);  // the current segment stays while appends go there
    EXPECT_EQ(JournalFiles(dir.path()), std::set<std::string>{paths[1]});
  }
  EXPECT_TRUE(JournalFiles(dir.path()).empty()) << "a stop with everything stored leaves no journal";
}

TEST(InboxJournal, AnOldSegmentWhoseEventsAreAllStoredGivesWay) {
  kt::testing::TempDir dir;
  InboxJournal journal(dir.path(), /*segment_bytes=*/1 << 20, /*segment_age=*/std::chrono::milliseconds(50));
  auto first = journal.Append(1, "early");
  ASSERT_TRUE(first);
  journal.Stored(*first);  // young: it stays the current segment
  auto second = journal.Append(1, "still early");
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, *first);
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  journal.Stored(*second);  // all stored and old: removed, so a crash would not replay it
  EXPECT_TRUE(JournalFiles(dir.path()).empty());
  auto third = journal.Append(1, "later");
  ASSERT_TRUE(third);
  EXPECT_NE(*third, *first);
  EXPECT_EQ(JournalFiles(dir.path()).size(), 1u);
}

TEST(InboxJournal, OnlyTheSegmentsOfAGoneProcessAreRecoveredAndAFailedStoreKeepsThem) {
  kt::testing::TempDir dir;
  InboxJournal live(dir.path());
  ASSERT_TRUE(live.Append(7, "live event"));
  {
    InboxJournal gone(dir.path());
    ASSERT_TRUE(gone.Append(8, "gone event 1"));
    ASSERT_TRUE(gone.Append(9, "gone event 2"));
  }  // closed with its events unstored: the file stays, unlocked, as after a crash
  ASSERT_EQ(JournalFiles(dir.path()).size(), 2u);

  auto refused =
      InboxJournal::RecoverOrphans(dir.path(), [](const std::vector<InboxJournal::Record>&) -> Status {
        return Fail(ErrorKind::kUnavailable, "db_down", "The database is down.");
      });
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "db_down");
  EXPECT_EQ(JournalFiles(dir.path()).size(), 2u) << "a journal that could not be stored is kept";

  std::vector<InboxJournal::Record> stored;
  auto recovered = InboxJournal::RecoverOrphans(
      dir.path(), [&](const std::vector<InboxJournal::Record>& records) -> Status {
        stored.insert(stored.end(), records.begin(), records.end());
        return {};
      });
  ASSERT_TRUE(recovered) << recovered.error().message;
  EXPECT_EQ(*recovered, 2);
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[0].client_id, 8);
  EXPECT_EQ(stored[1].body, "gone event 2");
  const auto left = JournalFiles(dir.path());
  EXPECT_EQ(left, std::set<std::string>{live.SegmentPaths()[0]}) << "a live process's segment is left alone";

  auto none = InboxJournal::RecoverOrphans(dir.path() + "/missing", [](const auto&) -> Status { return {}; });
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, 0);
}

TEST(InboxJournal, ASegmentThatCannotBeStoredDoesNotStopTheOthers) {
  kt::testing::TempDir dir;
  for (const char* body : {"bad event", "good event"}) {
    InboxJournal gone(dir.path());
    ASSERT_TRUE(gone.Append(8, body));
  }  // two gone processes' segments
  std::vector<std::string> stored;
  auto recovered = InboxJournal::RecoverOrphans(
      dir.path(), [&](const std::vector<InboxJournal::Record>& records) -> Status {
        if (records[0].body == "bad event")
          return Fail(ErrorKind::kInternal, "cannot_store", "This event cannot be stored.");
        stored.push_back(records[0].body);
        return {};
      });
  ASSERT_FALSE(recovered);
  EXPECT_EQ(recovered.error().code, "cannot_store");
  EXPECT_EQ(stored, std::vector<std::string>{"good event"});
  ASSERT_EQ(JournalFiles(dir.path()).size(), 1u);
  EXPECT_EQ(InboxJournal::ParseRecords(ReadFile(*JournalFiles(dir.path()).begin()))[0].body, "bad event");
}

// A store whose transactions fail while `failing` is above zero (each failure counts it down; negative:
// always).
class RefusingStore final : public store::Store {
 public:
  explicit RefusingStore(store::Store& inner) : inner_(inner) {}
  store::Dialect dialect() const override { return inner_.dialect(); }
  Status Transact(const std::function<Status(store::Tx&)>& fn) override {
    int left = failing.load();
    while (left != 0) {
      if (left < 0 || failing.compare_exchange_weak(left, left - 1))
        return Fail(ErrorKind::kUnavailable, "database_unavailable", "The database is refusing writes.");
    }
    ++transactions;
    return inner_.Transact(fn);
  }
  Result<store::QueryResult> Query(std::string_view sql, const store::Params& params) override {
    return inner_.Query(sql, params);
  }
  Status Ping() override { return inner_.Ping(); }
  std::string Describe() const override { return inner_.Describe(); }

  std::atomic<int> failing{0};
  std::atomic<int> transactions{0};  // passed on to the database

 private:
  store::Store& inner_;
};

class InboxWithJournal : public ::testing::Test {
 protected:
  static constexpr int64_t kClient = 42;

  void SetUp() override {
    auto opened = store::OpenStore("sqlite:" + dir_.path() + "/inbox.db");
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
    ASSERT_TRUE(store::Migrate(*store_));
    refusing_ = std::make_unique<RefusingStore>(*store_);
    queue_ = std::make_unique<queue::Queue>(*refusing_, clock_, random_);
  }

  std::unique_ptr<Inbox> NewInbox(size_t backlog = 20'000, Millis gather = Millis(10)) {
    InboxOptions options;
    options.journal_dir = journal_dir_;
    options.journal_backlog = backlog;
    options.journaled_gather = gather;
    return std::make_unique<Inbox>(*refusing_, *queue_, clock_, options);
  }

  // Accepts the delivery through the journal; false when the inbox declined it.
  static bool Journal(Inbox& inbox, const std::string& body) {
    auto event = ParseWebhookEvent(body);
    EXPECT_TRUE(event) << body << ": " << (event ? "" : event.error().message);
    if (!event) return false;
    std::string copy = body;
    return inbox.AcceptJournaled(kClient, *event, copy);
  }

  int64_t Stored() {
    auto r = store_->Query("SELECT COUNT(*) FROM webhook_inbox WHERE client_id = $1", {kClient});
    EXPECT_TRUE(r);
    return r ? r->rows[0].Int(0) : -1;
  }

  bool StoredWithin(int64_t expected, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (Stored() == expected) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return Stored() == expected;
  }

  kt::testing::TempDir dir_;
  const std::string journal_dir_ = dir_.path() + "/webhook-journal";
  SystemClock clock_;
  SeededRandom random_{7};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<RefusingStore> refusing_;
  std::unique_ptr<queue::Queue> queue_;
};

TEST_F(InboxWithJournal, DeliveriesAreTakenAtTheAppendAndStoredOnceEach) {
  auto inbox = NewInbox();
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(Journal(*inbox, Body(i)));
    if (i % 3 == 0) {
      ASSERT_TRUE(Journal(*inbox, Body(i)));  // redelivered
    }
  }
  EXPECT_TRUE(StoredWithin(300, std::chrono::seconds(30))) << Stored();
  auto payload = store_->Query(
      "SELECT p.payload FROM webhook_inbox_payloads p JOIN webhook_inbox i ON i.id = p.inbox_id "
      "WHERE i.event_key = $1",
      {"01jd0000000000000000000007"});
  ASSERT_TRUE(payload);
  ASSERT_EQ(payload->rows.size(), 1u);
  EXPECT_EQ(payload->rows[0].Text(0), Body(7)) << "the delivery's own body is kept";
  inbox.reset();
  EXPECT_TRUE(JournalFiles(journal_dir_).empty()) << "a stop with everything stored leaves no journal";
}

// Deliveries handed over together are journaled with one append: each complete one is taken (and stored once,
// a redelivery among them included); an incomplete one is left to its caller, untouched.
TEST_F(InboxWithJournal, DeliveriesJournaledTogetherAreTakenEachAndAnIncompleteOneIsLeft) {
  auto inbox = NewInbox();
  std::vector<Inbox::JournaledDelivery> deliveries;
  for (int i = 0; i < 40; ++i) {
    const std::string body = Body(i % 30);  // the last ten redeliver the first ten
    auto event = ParseWebhookEvent(body);
    ASSERT_TRUE(event);
    deliveries.push_back({.client_id = kClient, .event = *event, .raw_body = body});
  }
  deliveries[5].client_id = 0;
  deliveries[36].raw_body.clear();
  inbox->AcceptJournaled(deliveries);
  for (size_t i = 0; i < deliveries.size(); ++i) {
    if (i == 5 || i == 36) {
      EXPECT_FALSE(deliveries[i].journaled) << i;
      EXPECT_FALSE(deliveries[i].event.event_key.empty()) << "left as it was";
    } else {
      EXPECT_TRUE(deliveries[i].journaled) << i;
    }
  }
  // Events 5 and 6 came twice each: once incomplete (left), once whole (taken).
  EXPECT_TRUE(StoredWithin(30, std::chrono::seconds(30))) << Stored();
}

TEST_F(InboxWithJournal, AnEventTheDatabaseRefusedIsStoredOnceItTakesWritesAgain) {
  refusing_->failing = 2;  // the first two commits fail; the committer tries again after 0.2 s, then 0.4 s
  auto inbox = NewInbox();
  ASSERT_TRUE(Journal(*inbox, Body(1)));
  ASSERT_TRUE(Journal(*inbox, Body(2)));
  EXPECT_TRUE(StoredWithin(2, std::chrono::seconds(10))) << Stored();
  EXPECT_EQ(refusing_->failing.load(), 0);
}

TEST_F(InboxWithJournal, AnEventTheDatabaseRefusesAloneIsSetAsideForTheNextStartAndHoldsUpNothing) {
  ASSERT_TRUE(
      store_->Exec("CREATE TRIGGER refuse_one BEFORE INSERT ON webhook_inbox "
                   "WHEN NEW.event_key = '01jd0000000000000000000002' "
                   "BEGIN SELECT RAISE(ABORT, 'this event cannot be stored'); END"));
  auto inbox = NewInbox();
  // Each batch stores the others and refuses the second; after its third refusal alone it is set aside.
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(Journal(*inbox, Body(i)));
  ASSERT_TRUE(StoredWithin(2, std::chrono::seconds(10)));
  for (int i = 4; i <= 6; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(900));  // past the committer's pause
    ASSERT_TRUE(Journal(*inbox, Body(i)));
    ASSERT_TRUE(StoredWithin(i - 1, std::chrono::seconds(5))) << "event " << i << " was held up";
  }
  // Set aside now: a later event is stored at once.
  ASSERT_TRUE(Journal(*inbox, Body(7)));
  EXPECT_TRUE(StoredWithin(6, std::chrono::seconds(1))) << Stored();
  inbox.reset();
  EXPECT_EQ(JournalFiles(journal_dir_).size(), 1u) << "the journal holding it is kept";

  ASSERT_TRUE(store_->Exec("DROP TRIGGER refuse_one"));
  auto restarted = NewInbox();
  auto recovered = restarted->RecoverJournals();
  ASSERT_TRUE(recovered) << recovered.error().message;
  EXPECT_EQ(Stored(), 7);
  EXPECT_TRUE(JournalFiles(journal_dir_).empty());
}

TEST_F(InboxWithJournal, EventsNotStoredBeforeAStopAreStoredAtTheNextStart) {
  refusing_->failing = -1;  // the database refuses every write until the restart
  auto first = NewInbox();
  ASSERT_TRUE(Journal(*first, Body(1)));
  ASSERT_TRUE(Journal(*first, Body(2, 12)));
  ASSERT_TRUE(Journal(*first, Body(1)));  // a redelivery
  first.reset();                          // stops; what it could not store stays in its journal, now unlocked
  EXPECT_EQ(Stored(), 0);
  EXPECT_EQ(JournalFiles(journal_dir_).size(), 1u);

  refusing_->failing = 0;
  auto second = NewInbox();
  auto recovered = second->RecoverJournals();
  ASSERT_TRUE(recovered) << recovered.error().message;
  EXPECT_EQ(*recovered, 3);
  EXPECT_EQ(Stored(), 2);
  EXPECT_TRUE(JournalFiles(journal_dir_).empty());
  auto again = second->RecoverJournals();
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 0);
}

TEST_F(InboxWithJournal, AJournalThatCannotBeWrittenDeclinesSayingWhy) {
  std::ofstream(journal_dir_) << "a file where the journal's directory should be";
  InboxJournal journal(journal_dir_);
  auto appended = journal.Append(kClient, "event");
  ASSERT_FALSE(appended);
  EXPECT_EQ(appended.error().code, "inbox_journal_failed");
  EXPECT_NE(appended.error().message.find(journal_dir_), std::string::npos) << appended.error().message;
  EXPECT_FALSE(appended.error().fix.empty());

  auto inbox = NewInbox();
  EXPECT_FALSE(Journal(*inbox, Body(1)));  // the caller then waits for the commit instead
  auto event = ParseWebhookEvent(Body(1));
  ASSERT_TRUE(event);
  auto stored = inbox->Accept(kClient, *event, Body(1));
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_EQ(Stored(), 1);
}

// A flood the database cannot keep up with fills the journal's backlog; deliveries then wait for their
// commits again. Each waits for a commit or two, not for the whole backlog stored ahead of it.
TEST_F(InboxWithJournal, WithTheBacklogFullADeliveryWaitingForItsCommitGoesBeforeTheJournaledOnes) {
  constexpr int kBacklog = 5'000;
  refusing_->failing = -1;  // the committer's commits fail (and are retried after a pause) while it fills
  auto inbox = NewInbox(kBacklog);
  int journaled = 0;
  while (Journal(*inbox, Body(journaled + 1))) ++journaled;
  ASSERT_EQ(journaled, kBacklog) << "accepted into the journal until its backlog was full";
  refusing_->failing = 0;

  auto event = ParseWebhookEvent(Body(kBacklog + 1));
  ASSERT_TRUE(event);
  std::promise<std::pair<bool, int64_t>> answered;  // stored, and how many events were stored by then
  inbox->AcceptAsync(kClient, *event, Body(kBacklog + 1), [&](Result<AcceptResult> r) {
    answered.set_value({r.has_value() && !r->duplicate, Stored()});
  });
  auto future = answered.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  auto [stored, stored_by_then] = future.get();
  EXPECT_TRUE(stored);
  // In the commit after the database came back, or the one after that: with at most a thousand journaled
  // events each (not behind all five thousand).
  EXPECT_LE(stored_by_then, 2'001);
  EXPECT_TRUE(StoredWithin(kBacklog + 1, std::chrono::seconds(30))) << Stored();
}

// Journaled events alone are gathered into one commit; one whose caller waits is committed at once and takes
// them along; a commit's worth goes without waiting.
TEST_F(InboxWithJournal, JournaledEventsAreGatheredIntoFewCommitsUnlessACallerWaits) {
  auto inbox = NewInbox(20'000, /*gather=*/std::chrono::seconds(3));
  const int before = refusing_->transactions.load();
  for (int i = 1; i <= 300; ++i) ASSERT_TRUE(Journal(*inbox, Body(i)));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Stored(), 0) << "still gathering";
  EXPECT_EQ(refusing_->transactions.load(), before);

  const auto asked = std::chrono::steady_clock::now();
  auto event = ParseWebhookEvent(Body(301));
  ASSERT_TRUE(event);
  auto waited = inbox->Accept(kClient, *event, Body(301));
  ASSERT_TRUE(waited) << waited.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - asked, std::chrono::seconds(2))
      << "not kept for the gathering";
  EXPECT_EQ(Stored(), 301) << "the journaled ones went with it";
  EXPECT_EQ(refusing_->transactions.load(), before + 1);

  const auto flooded = std::chrono::steady_clock::now();
  for (int i = 302; i < 302 + 1'000; ++i) ASSERT_TRUE(Journal(*inbox, Body(i)));
  EXPECT_TRUE(StoredWithin(1'301, std::chrono::seconds(2))) << "a commit's worth goes at once: " << Stored();
  EXPECT_LT(std::chrono::steady_clock::now() - flooded, std::chrono::milliseconds(2'500));
  EXPECT_EQ(refusing_->transactions.load(), before + 2);
}

TEST_F(InboxWithJournal, ArrivalsPerSecondFollowsTheDeliveriesOfTheLastMoments) {
  auto inbox = NewInbox();
  EXPECT_EQ(inbox->ArrivalsPerSecond(), 0);
  const auto started = std::chrono::steady_clock::now();
  for (int i = 1; i <= 500; ++i) ASSERT_TRUE(Journal(*inbox, Body(i)));
  const double at_once = inbox->ArrivalsPerSecond();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  // 500 deliveries in a window not yet 100 ms long (counted as 100 ms), or in however long they took (half
  // of that: on a slow machine the windows may have turned over during the loop).
  EXPECT_GE(at_once, 0.5 * 500 / std::max(0.1, seconds)) << seconds << " s";
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_LT(inbox->ArrivalsPerSecond(), 500 / 0.3 + 1) << "the flood is over: its count over a longer time";
  ASSERT_TRUE(Journal(*inbox, Body(501)));  // a window starts at this delivery, after the 500 of the last
  EXPECT_GT(inbox->ArrivalsPerSecond(), 11.0)
      << "the window before still counts while this one is young (alone: 1 in 0.1 s)";
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_LT(inbox->ArrivalsPerSecond(), 3.0) << "one delivery in 0.4 s";
}

TEST_F(InboxWithJournal, AFullBacklogOrNoJournalDeclinesAndTheCallerWaitsForTheCommit) {
  auto full = NewInbox(/*backlog=*/0);
  EXPECT_FALSE(Journal(*full, Body(1)));
  EXPECT_TRUE(JournalFiles(journal_dir_).empty());

  Inbox without(*refusing_, *queue_, clock_, InboxOptions{});
  EXPECT_FALSE(Journal(without, Body(1)));
  auto recovered = without.RecoverJournals();
  ASSERT_TRUE(recovered);
  EXPECT_EQ(*recovered, 0);
}

}  // namespace
}  // namespace kt::sync::testing
