// Pools of realistic construction-industry values (people, firms, places, titles) for generated records.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace procore_emulator {

struct City {
  std::string_view city;
  std::string_view state_code;
  std::string_view zip;
  std::string_view county;
  double latitude;
  double longitude;
  std::string_view time_zone;  // Rails zone name, as Procore shows it
};

struct Division {
  std::string_view code;  // "03"
  std::string_view name;  // "Concrete"
};

namespace pools {
extern const std::span<const std::string_view> kFirstNames;
extern const std::span<const std::string_view> kLastNames;
extern const std::span<const std::string_view> kJobTitles;
extern const std::span<const std::string_view> kFirmPrefixes;
extern const std::span<const std::string_view> kFirmTrades;
extern const std::span<const std::string_view> kFirmSuffixes;
extern const std::span<const std::string_view> kTrades;
extern const std::span<const City> kCities;
extern const std::span<const std::string_view> kStreets;
extern const std::span<const std::string_view> kProjectPlaces;
extern const std::span<const std::string_view> kProjectTypes;
extern const std::span<const std::string_view> kCompanyNames;
extern const std::span<const Division> kDivisions;
extern const std::span<const std::string_view> kCostCodeNames;
extern const std::span<const std::string_view> kRfiSubjects;
extern const std::span<const std::string_view> kLocations;
extern const std::span<const std::string_view> kSubmittalTitles;
extern const std::span<const std::string_view> kChangeEventTitles;
extern const std::span<const std::string_view> kChangeReasons;
extern const std::span<const std::string_view> kContractScopes;
extern const std::span<const std::string_view> kNotes;
}  // namespace pools

// Names that other records refer to, so they stay the same wherever they appear.
std::string PersonFirstName(uint64_t seed, int company_slot, int64_t user_index);
std::string PersonLastName(uint64_t seed, int company_slot, int64_t user_index);
std::string VendorName(uint64_t seed, int company_slot, int64_t vendor_index);
std::string TradeName(int64_t trade_index);
std::string ProjectName(uint64_t seed, int company_slot, int64_t project_index);
std::string CompanyName(uint64_t seed, int company_slot);
const City& ProjectCity(uint64_t seed, int company_slot, int64_t project_index);
// "jose.pena@summitridge.example": ASCII only, from the name.
std::string EmailFor(std::string_view first, std::string_view last, std::string_view domain);

}  // namespace procore_emulator
