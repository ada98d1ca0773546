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
std::span<const std::string_view> FirstNames();
std::span<const std::string_view> LastNames();
std::span<const std::string_view> JobTitles();
std::span<const std::string_view> FirmPrefixes();
std::span<const std::string_view> FirmTrades();
std::span<const std::string_view> FirmSuffixes();
std::span<const std::string_view> Trades();
std::span<const City> Cities();
std::span<const std::string_view> Streets();
std::span<const std::string_view> ProjectPlaces();
std::span<const std::string_view> ProjectTypes();
std::span<const std::string_view> CompanyNames();
std::span<const Division> Divisions();
std::span<const std::string_view> CostCodeNames();
std::span<const std::string_view> RfiSubjects();
std::span<const std::string_view> Locations();
std::span<const std::string_view> SubmittalTitles();
std::span<const std::string_view> ChangeEventTitles();
std::span<const std::string_view> ChangeReasons();
std::span<const std::string_view> ContractScopes();
std::span<const std::string_view> Notes();
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
