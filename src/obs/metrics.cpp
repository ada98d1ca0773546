// The Metrics wrapper over a prometheus-cpp Registry.
#include "obs/metrics.h"

#include <prometheus/text_serializer.h>

#include <sstream>

namespace kt::obs {

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {}
Metrics::~Metrics() = default;

prometheus::Counter& Metrics::Counter(std::string_view name, const Labels& labels, std::string_view help) {
  prometheus::Family<prometheus::Counter>* family;
  {
    std::lock_guard lock(mu_);
    auto [it, inserted] = counters_.try_emplace(std::string(name), nullptr);
    if (inserted) {
      try {
        it->second = &prometheus::BuildCounter().Name(it->first).Help(std::string(help)).Register(*registry_);
      } catch (...) {
        counters_.erase(it);
        throw;
      }
    }
    family = it->second;
  }
  return family->Add(labels);  // thread-safe; returns the existing series for known labels
}

prometheus::Gauge& Metrics::Gauge(std::string_view name, const Labels& labels, std::string_view help) {
  prometheus::Family<prometheus::Gauge>* family;
  {
    std::lock_guard lock(mu_);
    auto [it, inserted] = gauges_.try_emplace(std::string(name), nullptr);
    if (inserted) {
      try {
        it->second = &prometheus::BuildGauge().Name(it->first).Help(std::string(help)).Register(*registry_);
      } catch (...) {
        gauges_.erase(it);
        throw;
      }
    }
    family = it->second;
  }
  return family->Add(labels);
}

prometheus::Histogram& Metrics::Histogram(std::string_view name, const Labels& labels,
                                          const std::vector<double>& buckets, std::string_view help) {
  prometheus::Family<prometheus::Histogram>* family;
  {
    std::lock_guard lock(mu_);
    auto [it, inserted] = histograms_.try_emplace(std::string(name), nullptr);
    if (inserted) {
      try {
        it->second =
            &prometheus::BuildHistogram().Name(it->first).Help(std::string(help)).Register(*registry_);
      } catch (...) {
        histograms_.erase(it);
        throw;
      }
    }
    family = it->second;
  }
  return family->Add(labels, buckets);
}

std::string Metrics::RenderText() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

const std::vector<double>& Metrics::LatencyBuckets() {
  static const std::vector<double> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                               0.25,  0.5,    1.0,   2.5,  5.0,   10.0};
  return kBuckets;
}

Metrics& DefaultMetrics() {
  static Metrics* metrics = new Metrics();  // never destroyed: used from threads that may outlive main
  return *metrics;
}

}  // namespace kt::obs
