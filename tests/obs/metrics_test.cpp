// Metrics get-or-create and the text exposition.
#include "obs/metrics.h"

#include <thread>

#include <gtest/gtest.h>

namespace kt::obs {
namespace {

TEST(ObsMetricsTest, SameNameAndLabelsIsTheSameSeries) {
  Metrics metrics;
  auto& a = metrics.Counter("sync_records_total", {{"stream", "rfis"}}, "records synced");
  auto& b = metrics.Counter("sync_records_total", {{"stream", "rfis"}});
  EXPECT_EQ(&a, &b);
  a.Increment(2);
  metrics.Counter("sync_records_total", {{"stream", "vendors"}}).Increment();
  metrics.Gauge("queue_depth").Set(4);
  metrics.Histogram("procore_request_duration_seconds", {{"endpoint", "projects"}}).Observe(0.02);
  std::string text = metrics.RenderText();
  EXPECT_NE(text.find("# HELP sync_records_total records synced"), std::string::npos) << text;
  EXPECT_NE(text.find("sync_records_total{stream=\"rfis\"} 2"), std::string::npos) << text;
  EXPECT_NE(text.find("sync_records_total{stream=\"vendors\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("queue_depth 4"), std::string::npos) << text;
  EXPECT_NE(text.find("procore_request_duration_seconds_bucket{endpoint=\"projects\",le=\"0.025\"} 1"),
            std::string::npos)
      << text;
}

TEST(ObsMetricsTest, ConcurrentGetOrCreate) {
  Metrics metrics;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i)
        metrics.Counter("hits_total", {{"k", std::to_string(i % 5)}}).Increment();
    });
  }
  for (auto& t : threads) t.join();
  double total = 0;
  for (int k = 0; k < 5; ++k) total += metrics.Counter("hits_total", {{"k", std::to_string(k)}}).Value();
  EXPECT_EQ(total, 4000);
}

TEST(ObsMetricsTest, ANameIsOneKindOfMetric) {
  Metrics metrics;
  metrics.Counter("things_total");
  EXPECT_ANY_THROW(metrics.Gauge("things_total"));
}

}  // namespace
}  // namespace kt::obs
