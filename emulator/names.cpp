// The value pools: a mix of American and international names (with accents and non-Latin letters on purpose).
#include "emulator/names.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "emulator/dice.h"

namespace procore_emulator {
namespace pools {
namespace {
using sv = std::string_view;
constexpr std::array kFirstNames = {
    sv("James"),   sv("María"),    sv("Wei"),   sv("Aisha"),   sv("Lukas"),  sv("Sofía"),    sv("Chloé"),
    sv("José"),    sv("Zoë"),      sv("Björn"), sv("Łukasz"),  sv("Siân"),   sv("Renée"),    sv("Jürgen"),
    sv("Søren"),   sv("François"), sv("Ana"),   sv("Mateo"),   sv("Olivia"), sv("Noah"),     sv("Emma"),
    sv("Liam"),    sv("Ava"),      sv("Ethan"), sv("Mia"),     sv("Lucas"),  sv("Isabella"), sv("Mason"),
    sv("Amara"),   sv("Kenji"),    sv("Priya"), sv("Dmitri"),  sv("Fatima"), sv("Hiroshi"),  sv("Ingrid"),
    sv("Tomás"),   sv("Élodie"),   sv("Thảo"),  sv("Øystein"), sv("Grace"),  sv("Daniel"),   sv("Sarah"),
    sv("Michael"), sv("Jessica"),  sv("David"), sv("Emily"),   sv("Carlos"), sv("Hannah"),
};
constexpr std::array kLastNames = {
    sv("Smith"),      sv("García"),    sv("Müller"),    sv("Nguyễn"), sv("O'Brien"), sv("Kowalski"),
    sv("Johansson"),  sv("Rossi"),     sv("Dubois"),    sv("Tanaka"), sv("Okafor"),  sv("Schröder"),
    sv("Peña"),       sv("Núñez"),     sv("Fernández"), sv("Walker"), sv("Chen"),    sv("Patel"),
    sv("Martínez"),   sv("Andersson"), sv("Brown"),     sv("Davis"),  sv("Wilson"),  sv("Anderson"),
    sv("Thomas"),     sv("Moore"),     sv("Jackson"),   sv("White"),  sv("Harris"),  sv("Clark"),
    sv("Lewis"),      sv("Young"),     sv("Hall"),      sv("Allen"),  sv("King"),    sv("Wright"),
    sv("Lopez"),      sv("Hill"),      sv("Scott"),     sv("Green"),  sv("Adams"),   sv("Baker"),
    sv("Østergaard"), sv("Çelik"),     sv("Kim"),       sv("Singh"),  sv("Ivanova"), sv("Yamamoto"),
};
constexpr std::array kJobTitles = {
    sv("Project Manager"),
    sv("Superintendent"),
    sv("Project Engineer"),
    sv("Assistant Project Manager"),
    sv("Estimator"),
    sv("Field Engineer"),
    sv("Safety Manager"),
    sv("Foreman"),
    sv("Project Executive"),
    sv("Controller"),
    sv("Accountant"),
    sv("Scheduler"),
    sv("Preconstruction Manager"),
    sv("Office Manager"),
    sv("Quality Control Manager"),
    sv("BIM Coordinator"),
    sv("Purchasing Agent"),
    sv("Owner's Representative"),
};
constexpr std::array kFirmPrefixes = {
    sv("Summit"),    sv("Keystone"),  sv("Blue Ridge"), sv("Müller"),        sv("Peña"),
    sv("Ironclad"),  sv("Northstar"), sv("Cascade"),    sv("Granite State"), sv("Pacific"),
    sv("Lone Star"), sv("Evergreen"), sv("Redwood"),    sv("Atlas"),         sv("Beacon"),
    sv("Harbor"),    sv("Pinnacle"),  sv("Sierra"),     sv("Timberline"),    sv("Great Lakes"),
    sv("Delta"),     sv("Frontier"),  sv("Liberty"),    sv("Meridian"),      sv("Østergaard"),
    sv("São Paulo"), sv("Zürich"),    sv("Brightline"), sv("Copperhead"),    sv("Falcon"),
    sv("Highland"),  sv("Ridgeway"),
};
constexpr std::array kFirmTrades = {
    sv("Concrete"), sv("Electric"),   sv("Plumbing"),     sv("Mechanical"),      sv("Steel"),
    sv("Drywall"),  sv("Roofing"),    sv("Glazing"),      sv("Excavation"),      sv("Paving"),
    sv("Masonry"),  sv("Painting"),   sv("Flooring"),     sv("Fire Protection"), sv("Landscaping"),
    sv("HVAC"),     sv("Insulation"), sv("Demolition"),   sv("Elevator"),        sv("Millwork"),
    sv("Supply"),   sv("Builders"),   sv("Construction"), sv("Engineering"),
};
constexpr std::array kFirmSuffixes = {
    sv("Inc."), sv("LLC"),    sv("Co."),      sv("Group"),       sv("Corp."), sv("Ltd."),
    sv("GmbH"), sv("& Sons"), sv("Partners"), sv("Contractors"), sv("S.A."),  sv("Services"),
};
constexpr std::array kTrades = {
    sv("General Conditions"),
    sv("Sitework"),
    sv("Concrete"),
    sv("Masonry"),
    sv("Structural Steel"),
    sv("Carpentry"),
    sv("Millwork"),
    sv("Waterproofing"),
    sv("Roofing"),
    sv("Doors & Frames"),
    sv("Glazing"),
    sv("Drywall"),
    sv("Acoustical Ceilings"),
    sv("Flooring"),
    sv("Painting"),
    sv("Specialties"),
    sv("Elevators"),
    sv("Fire Protection"),
    sv("Plumbing"),
    sv("HVAC"),
    sv("Electrical"),
    sv("Low Voltage"),
    sv("Earthwork"),
    sv("Paving"),
    sv("Landscaping"),
    sv("Demolition"),
    sv("Insulation"),
    sv("Fencing"),
    sv("Surveying"),
    sv("Testing & Inspection"),
    sv("Scaffolding"),
    sv("Final Cleaning"),
    sv("Signage"),
    sv("Audio Visual"),
    sv("Security"),
    sv("Solar"),
    sv("Geotechnical"),
    sv("Utilities"),
    sv("Tile"),
    sv("Countertops"),
    sv("Curtain Wall"),
    sv("Fireproofing"),
    sv("Metal Decking"),
    sv("Rebar"),
    sv("Precast"),
    sv("Casework"),
    sv("Window Treatments"),
    sv("Food Service Equipment"),
    sv("Conveying Systems"),
    sv("Pile Driving"),
    sv("Shoring"),
    sv("Traffic Control"),
    sv("Striping"),
    sv("Irrigation"),
    sv("Controls"),
    sv("Commissioning"),
    sv("Sheet Metal"),
    sv("Terrazzo"),
    sv("Stucco"),
    sv("Caulking & Sealants"),
};
constexpr std::array kCities = {
    City{"Austin", "TX", "78701", "Travis", 30.2672, -97.7431, "Central Time (US & Canada)"},
    City{"Denver", "CO", "80202", "Denver", 39.7392, -104.9903, "Mountain Time (US & Canada)"},
    City{"Seattle", "WA", "98101", "King", 47.6062, -122.3321, "Pacific Time (US & Canada)"},
    City{"Portland", "OR", "97204", "Multnomah", 45.5152, -122.6784, "Pacific Time (US & Canada)"},
    City{"Phoenix", "AZ", "85004", "Maricopa", 33.4484, -112.0740, "Arizona"},
    City{"Nashville", "TN", "37203", "Davidson", 36.1627, -86.7816, "Central Time (US & Canada)"},
    City{"Raleigh", "NC", "27601", "Wake", 35.7796, -78.6382, "Eastern Time (US & Canada)"},
    City{"Boston", "MA", "02108", "Suffolk", 42.3601, -71.0589, "Eastern Time (US & Canada)"},
    City{"Chicago", "IL", "60602", "Cook", 41.8781, -87.6298, "Central Time (US & Canada)"},
    City{"Minneapolis", "MN", "55401", "Hennepin", 44.9778, -93.2650, "Central Time (US & Canada)"},
    City{"San Diego", "CA", "92101", "San Diego", 32.7157, -117.1611, "Pacific Time (US & Canada)"},
    City{"Salt Lake City", "UT", "84111", "Salt Lake", 40.7608, -111.8910, "Mountain Time (US & Canada)"},
    City{"Atlanta", "GA", "30303", "Fulton", 33.7490, -84.3880, "Eastern Time (US & Canada)"},
    City{"Miami", "FL", "33131", "Miami-Dade", 25.7617, -80.1918, "Eastern Time (US & Canada)"},
    City{"Columbus", "OH", "43215", "Franklin", 39.9612, -82.9988, "Eastern Time (US & Canada)"},
    City{"Kansas City", "MO", "64105", "Jackson", 39.0997, -94.5786, "Central Time (US & Canada)"},
    City{"Pittsburgh", "PA", "15222", "Allegheny", 40.4406, -79.9959, "Eastern Time (US & Canada)"},
    City{"Sacramento", "CA", "95814", "Sacramento", 38.5816, -121.4944, "Pacific Time (US & Canada)"},
    City{"Boise", "ID", "83702", "Ada", 43.6150, -116.2023, "Mountain Time (US & Canada)"},
    City{"Albuquerque", "NM", "87102", "Bernalillo", 35.0844, -106.6504, "Mountain Time (US & Canada)"},
    City{"San Juan", "PR", "00901", "San Juan", 18.4655, -66.1057, "Atlantic Time (Canada)"},
    City{"Honolulu", "HI", "96813", "Honolulu", 21.3069, -157.8583, "Hawaii"},
};
constexpr std::array kStreets = {
    sv("Main St"),       sv("Market St"),       sv("Congress Ave"),
    sv("Broadway"),      sv("Peachtree St NE"), sv("Avenida de la Constitución"),
    sv("Elm St"),        sv("Commerce Blvd"),   sv("Industrial Pkwy"),
    sv("Lake Shore Dr"), sv("Harbor Way"),      sv("Mission St"),
    sv("Cedar Ave"),     sv("Oak Grove Rd"),    sv("University Ave"),
    sv("Calle Ocho"),    sv("Rue Saint-Denis"), sv("Riverside Dr"),
};
constexpr std::array kProjectPlaces = {
    sv("Riverside"),    sv("Maple Street"), sv("Harbor Point"), sv("Cedar Park"),    sv("Lakeview"),
    sv("Union Square"), sv("Oak Hollow"),   sv("Bayfront"),     sv("Westgate"),      sv("Pioneer"),
    sv("Sunset Ridge"), sv("Mission Bay"),  sv("Elm Creek"),    sv("Northgate"),     sv("Canyon View"),
    sv("Crescent"),     sv("Heritage"),     sv("Willow Bend"),  sv("Market Street"), sv("Café Lumière"),
    sv("São Miguel"),   sv("Zürich Haus"),  sv("Kōyō"),         sv("Fjällbacka"),    sv("Peña Blanca"),
    sv("Eastside"),     sv("Stonebridge"),  sv("Magnolia"),     sv("Ironworks"),     sv("Gateway"),
};
constexpr std::array kProjectTypes = {
    sv("Medical Center"),
    sv("Lofts"),
    sv("Office Tower"),
    sv("Elementary School"),
    sv("Distribution Center"),
    sv("Parking Structure"),
    sv("Mixed-Use Development"),
    sv("Hotel"),
    sv("Library Renovation"),
    sv("Fire Station"),
    sv("Apartments"),
    sv("Data Center"),
    sv("Community Center"),
    sv("Retail Center"),
    sv("Science Building"),
    sv("Water Treatment Plant"),
    sv("Senior Living"),
    sv("Stadium Renovation"),
    sv("Airport Terminal"),
    sv("Bridge Replacement"),
    sv("Tenant Improvement"),
    sv("Laboratory"),
};
constexpr std::array kCompanyNames = {
    sv("Ridgeline Builders, Inc."),         sv("Northwind Construction Co."),
    sv("Ålesund Building Group"),           sv("Peña & Whitaker Contractors"),
    sv("Granite Peak General Contracting"), sv("Bayside Development Partners"),
    sv("Keystone Civil & Structural"),      sv("Montaño Construction LLC"),
};
constexpr std::array kDivisions = {
    Division{"01", "General Requirements"},
    Division{"02", "Existing Conditions"},
    Division{"03", "Concrete"},
    Division{"04", "Masonry"},
    Division{"05", "Metals"},
    Division{"06", "Wood, Plastics, and Composites"},
    Division{"07", "Thermal and Moisture Protection"},
    Division{"08", "Openings"},
    Division{"09", "Finishes"},
    Division{"10", "Specialties"},
    Division{"14", "Conveying Equipment"},
    Division{"21", "Fire Suppression"},
    Division{"22", "Plumbing"},
    Division{"23", "HVAC"},
    Division{"26", "Electrical"},
    Division{"31", "Earthwork"},
};
constexpr std::array kCostCodeNames = {
    sv("Supervision"),
    sv("Temporary Facilities"),
    sv("Survey & Layout"),
    sv("Demolition"),
    sv("Footings"),
    sv("Slab on Grade"),
    sv("Formwork"),
    sv("Reinforcing Steel"),
    sv("Unit Masonry"),
    sv("Structural Steel"),
    sv("Metal Decking"),
    sv("Rough Carpentry"),
    sv("Finish Carpentry"),
    sv("Roofing"),
    sv("Insulation"),
    sv("Doors & Hardware"),
    sv("Storefront & Glazing"),
    sv("Gypsum Board"),
    sv("Acoustical Ceilings"),
    sv("Resilient Flooring"),
    sv("Painting & Coatings"),
    sv("Toilet Accessories"),
    sv("Elevators"),
    sv("Sprinklers"),
    sv("Domestic Water"),
    sv("Sanitary Waste"),
    sv("Ductwork"),
    sv("Controls"),
    sv("Lighting"),
    sv("Power Distribution"),
    sv("Excavation"),
    sv("Site Utilities"),
};
constexpr std::array kRfiSubjects = {
    sv("Clarify footing depth at grid line"),
    sv("Conflict between duct and beam at"),
    sv("Confirm door hardware set for"),
    sv("Missing dimension on sheet A-201 near"),
    sv("Substitution request for storefront system at"),
    sv("Slab edge detail at"),
    sv("Fire rating of corridor wall at"),
    sv("Electrical panel location conflict in"),
    sv("Waterproofing termination at"),
    sv("Ceiling height discrepancy in"),
    sv("Anchor bolt layout at"),
    sv("Elevator pit depth at"),
    sv("Rebar lap length at"),
    sv("Paint color clarification for"),
    sv("Drainage slope at"),
    sv("Structural connection detail for canopy at"),
};
constexpr std::array kLocations = {
    sv("Level 1"),         sv("Level 2"),        sv("Level 3"),  sv("Roof"),
    sv("Basement"),        sv("Parking Garage"), sv("Lobby"),    sv("Stair 2"),
    sv("East Wing"),       sv("West Wing"),      sv("Grid C/4"), sv("Grid F/7"),
    sv("Mechanical Room"), sv("Loading Dock"),   sv("Atrium"),   sv("Courtyard"),
};
constexpr std::array kSubmittalTitles = {
    sv("Concrete Mix Design"),
    sv("Rebar Shop Drawings"),
    sv("Structural Steel Shop Drawings"),
    sv("Curtain Wall System"),
    sv("Roofing Membrane Product Data"),
    sv("Door Hardware Schedule"),
    sv("HVAC Equipment Submittal"),
    sv("Light Fixture Cut Sheets"),
    sv("Fire Sprinkler Layout"),
    sv("Elevator Shop Drawings"),
    sv("Flooring Samples"),
    sv("Paint Color Samples"),
    sv("Millwork Shop Drawings"),
    sv("Switchgear Product Data"),
    sv("Plumbing Fixtures"),
    sv("Waterproofing Warranty"),
    sv("Acoustical Ceiling Tile Samples"),
    sv("Masonry Mockup"),
    sv("Storefront Shop Drawings"),
    sv("Generator Product Data"),
};
constexpr std::array kChangeEventTitles = {
    sv("Owner requested additional outlets"),
    sv("Unforeseen rock during excavation"),
    sv("Design change: lobby finishes"),
    sv("Added fire dampers per AHJ comment"),
    sv("Upgrade to LED fixtures"),
    sv("Relocate water main"),
    sv("Storm damage repair"),
    sv("Revised structural connection"),
    sv("Additional waterproofing at podium"),
    sv("Owner change: tenant layout revision"),
    sv("Hazardous material abatement"),
    sv("Escalation on steel pricing"),
    sv("Accelerated schedule: overtime"),
    sv("Added security cameras"),
};
constexpr std::array kChangeReasons = {
    sv("Client Request"), sv("Design Development"), sv("Existing Condition"), sv("Allowance"),
    sv("Backcharge"),     sv("Code Requirement"),   sv("Errors & Omissions"), sv("Unforeseen Condition"),
};
constexpr std::array kContractScopes = {
    sv("Concrete package"),
    sv("Electrical rough-in and trim"),
    sv("Mechanical systems"),
    sv("Structural steel"),
    sv("Drywall & framing"),
    sv("Roofing & sheet metal"),
    sv("Plumbing"),
    sv("Glazing & curtain wall"),
    sv("Sitework & utilities"),
    sv("Painting"),
    sv("Flooring"),
    sv("Fire protection"),
    sv("Elevators"),
    sv("Millwork"),
    sv("Masonry"),
    sv("Landscaping"),
};
constexpr std::array kNotes = {
    sv("Crew on site at 7:00; work proceeded as planned."),
    sv("Rain delay in the morning, resumed at noon."),
    sv("Inspection passed; forms stripped."),
    sv("Material delivery late — crew reassigned."),
    sv("Safety toolbox talk: fall protection."),
    sv("Worked overtime to recover schedule."),
    sv("Coordinated with the electrician on Level 2."),
    sv("Température élevée; pauses supplémentaires."),
    sv("Crane down for maintenance until 10:00."),
    sv(""),
};
}  // namespace

std::span<const std::string_view> FirstNames() {
  return kFirstNames;
}
std::span<const std::string_view> LastNames() {
  return kLastNames;
}
std::span<const std::string_view> JobTitles() {
  return kJobTitles;
}
std::span<const std::string_view> FirmPrefixes() {
  return kFirmPrefixes;
}
std::span<const std::string_view> FirmTrades() {
  return kFirmTrades;
}
std::span<const std::string_view> FirmSuffixes() {
  return kFirmSuffixes;
}
std::span<const std::string_view> Trades() {
  return kTrades;
}
std::span<const City> Cities() {
  return kCities;
}
std::span<const std::string_view> Streets() {
  return kStreets;
}
std::span<const std::string_view> ProjectPlaces() {
  return kProjectPlaces;
}
std::span<const std::string_view> ProjectTypes() {
  return kProjectTypes;
}
std::span<const std::string_view> CompanyNames() {
  return kCompanyNames;
}
std::span<const Division> Divisions() {
  return kDivisions;
}
std::span<const std::string_view> CostCodeNames() {
  return kCostCodeNames;
}
std::span<const std::string_view> RfiSubjects() {
  return kRfiSubjects;
}
std::span<const std::string_view> Locations() {
  return kLocations;
}
std::span<const std::string_view> SubmittalTitles() {
  return kSubmittalTitles;
}
std::span<const std::string_view> ChangeEventTitles() {
  return kChangeEventTitles;
}
std::span<const std::string_view> ChangeReasons() {
  return kChangeReasons;
}
std::span<const std::string_view> ContractScopes() {
  return kContractScopes;
}
std::span<const std::string_view> Notes() {
  return kNotes;
}
}  // namespace pools

namespace {
template <typename T>
const T& PickBy(std::span<const T> items, uint64_t h) {
  return items[h % items.size()];
}
}  // namespace

std::string PersonFirstName(uint64_t seed, int company_slot, int64_t user_index) {
  return std::string(PickBy(pools::FirstNames(), Mix({seed, 11, static_cast<uint64_t>(company_slot),
                                                      static_cast<uint64_t>(user_index)})));
}

std::string PersonLastName(uint64_t seed, int company_slot, int64_t user_index) {
  return std::string(PickBy(pools::LastNames(), Mix({seed, 12, static_cast<uint64_t>(company_slot),
                                                     static_cast<uint64_t>(user_index)})));
}

std::string VendorName(uint64_t seed, int company_slot, int64_t vendor_index) {
  uint64_t h = Mix({seed, 13, static_cast<uint64_t>(company_slot), static_cast<uint64_t>(vendor_index)});
  std::string name(PickBy(pools::FirmPrefixes(), h));
  name += ' ';
  name += PickBy(pools::FirmTrades(), h >> 16);
  name += ' ';
  name += PickBy(pools::FirmSuffixes(), h >> 32);
  // Keep names distinct enough in large directories.
  if (vendor_index >= static_cast<int64_t>(pools::FirmPrefixes().size() * pools::FirmTrades().size()))
    name += " (" + std::to_string(vendor_index) + ")";
  return name;
}

std::string TradeName(int64_t trade_index) {
  auto n = static_cast<int64_t>(pools::Trades().size());
  std::string name(pools::Trades()[static_cast<size_t>(trade_index % n)]);
  if (trade_index >= n) name += " " + std::to_string(trade_index / n + 1);
  return name;
}

std::string ProjectName(uint64_t seed, int company_slot, int64_t project_index) {
  uint64_t h = Mix({seed, 14, static_cast<uint64_t>(company_slot), static_cast<uint64_t>(project_index)});
  std::string name(PickBy(pools::ProjectPlaces(), h));
  name += ' ';
  name += PickBy(pools::ProjectTypes(), h >> 20);
  if ((h >> 40) % 4 == 0) name += " – Phase " + std::to_string((h >> 44) % 3 + 2);
  return name;
}

std::string CompanyName(uint64_t seed, int company_slot) {
  return std::string(PickBy(pools::CompanyNames(), Mix({seed, 15}) + static_cast<uint64_t>(company_slot)));
}

const City& ProjectCity(uint64_t seed, int company_slot, int64_t project_index) {
  return PickBy(pools::Cities(),
                Mix({seed, 16, static_cast<uint64_t>(company_slot), static_cast<uint64_t>(project_index)}));
}

namespace {

// The ASCII letters a Latin letter of U+00C0-U+017F is written with in an email address ("Zoë" → "zoe",
// "Øystein" → "oystein", "Weiß" → "weiss"); empty for what is not a letter.
std::string_view AsciiLetters(uint32_t code_point) {
  // U+00C0-U+00FF, one letter each ('.': two letters, below, or not a letter): À-Ö, ×, Ø-ß, à-ö, ÷, ø-ÿ.
  static constexpr std::string_view kLatin1 =
      "aaaaaa.ceeeeiiiidnooooo.ouuuuy..aaaaaa.ceeeeiiiidnooooo.ouuuuy.y";
  if (code_point >= 0xC0 && code_point <= 0xFF) {
    if (code_point == 0xC6 || code_point == 0xE6) return "ae";
    if (code_point == 0xDF) return "ss";
    if (code_point == 0xDE || code_point == 0xFE) return "th";
    const std::string_view one = kLatin1.substr(code_point - 0xC0, 1);
    return one == "." ? std::string_view() : one;
  }
  // Latin Extended-A, U+0100-U+017F ('.': the ligatures, below).
  static constexpr std::string_view kExtendedA =
      "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiii..jjkkkllllllllllnnnnnnnnnoooooo.."
      "rrrrrrssssssssttttttuuuuuuu"
      "uuuuuwwyyyzzzzzzs";
  static_assert(kLatin1.size() == 0x40 && kExtendedA.size() == 0x80);
  if (code_point == 0x132 || code_point == 0x133) return "ij";
  if (code_point == 0x152 || code_point == 0x153) return "oe";
  if (code_point >= 0x100 && code_point <= 0x17F) {
    const std::string_view one = kExtendedA.substr(code_point - 0x100, 1);
    return one == "." ? std::string_view() : one;
  }
  return {};
}

// Lower-case ASCII letters and digits of a name, Latin letters with marks written without them.
std::string EmailPart(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      out += static_cast<char>(c);
    } else if (c >= 'A' && c <= 'Z') {
      out += static_cast<char>(c - 'A' + 'a');
    } else if ((c & 0xE0) == 0xC0 && i + 1 < s.size()) {  // a two-byte UTF-8 sequence
      const uint32_t code_point = ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu);
      out += AsciiLetters(code_point);
      ++i;
    }
  }
  return out.empty() ? std::string("user") : out;
}

}  // namespace

std::string EmailFor(std::string_view first, std::string_view last, std::string_view domain) {
  return EmailPart(first) + "." + EmailPart(last) + "@" + std::string(domain);
}

}  // namespace procore_emulator
