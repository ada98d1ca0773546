// Prometheus metrics: get-or-create counters, gauges and histograms by name and labels; text exposition.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace kt::obs {

using Labels = std::map<std::string, std::string>;

// Thread-safe. Metric references stay valid for the Metrics object's lifetime; callers on hot paths may keep
// them. A name is one kind of metric: asking for a counter under a histogram's name is a bug (throws).
class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  prometheus::Counter& Counter(std::string_view name, const Labels& labels = {}, std::string_view help = {});
  prometheus::Gauge& Gauge(std::string_view name, const Labels& labels = {}, std::string_view help = {});
  // buckets apply when the histogram family is first created; later calls get the existing one.
  prometheus::Histogram& Histogram(std::string_view name, const Labels& labels = {},
                                   const std::vector<double>& buckets = LatencyBuckets(),
                                   std::string_view help = {});

  // The Prometheus text exposition format (version 0.0.4) of every metric.
  std::string RenderText() const;
  // The content type to serve RenderText() with.
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

  // Seconds, from 1 ms to 10 s: request and call latencies.
  static const std::vector<double>& LatencyBuckets();

  prometheus::Registry& registry() { return *registry_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::mutex mu_;
  std::unordered_map<std::string, prometheus::Family<prometheus::Counter>*> counters_;
  std::unordered_map<std::string, prometheus::Family<prometheus::Gauge>*> gauges_;
  std::unordered_map<std::string, prometheus::Family<prometheus::Histogram>*> histograms_;
};

// The process-wide metrics (the /metrics route renders these).
Metrics& DefaultMetrics();

}  // namespace kt::obs
