// The webhook payload parser: format detection, then each field checked for presence and type.
//
// Bodies are parsed with simdjson (the receiver's hot path); a body simdjson refuses (malformed JSON, an
// integer beyond 64 bits, extreme nesting) is parsed again with nlohmann-json, whose verdict stands, so every
// body gets the same answer and message as before. The checks are written once over a small view of a JSON
// value that both parsers provide.
#include "sync/webhook_event.h"

#include <simdjson.h>

#include <nlohmann/json.hpp>

#include "util/strings.h"

namespace kt::sync {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxNameLength = 200;

// A value in an nlohmann document.
class NlohmannView {
 public:
  explicit NlohmannView(const Json& v) : v_(&v) {}
  std::optional<NlohmannView> Field(const char* key) const {
    auto it = v_->find(key);
    if (it == v_->end()) return std::nullopt;
    return NlohmannView(*it);
  }
  bool is_null() const { return v_->is_null(); }
  bool is_string() const { return v_->is_string(); }
  bool is_object() const { return v_->is_object(); }
  bool is_array() const { return v_->is_array(); }
  bool is_integer() const { return v_->is_number_integer() || v_->is_number_unsigned(); }
  std::string_view str() const { return v_->get_ref<const std::string&>(); }
  // A JSON integer that fits int64.
  std::optional<int64_t> integer() const {
    if (v_->is_number_unsigned()) {
      uint64_t u = v_->get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
      return static_cast<int64_t>(u);
    }
    if (v_->is_number_integer()) return v_->get<int64_t>();
    return std::nullopt;
  }
  std::string integer_text() const { return v_->dump(); }

 private:
  const Json* v_;
};

// A value in a simdjson document. A key given twice resolves to its last value, as in nlohmann.
class SimdView {
 public:
  explicit SimdView(simdjson::dom::element v) : v_(v) {}
  std::optional<SimdView> Field(const char* key) const {
    simdjson::dom::object obj;
    if (v_.get_object().get(obj)) return std::nullopt;
    std::optional<SimdView> found;
    const std::string_view wanted(key);
    for (auto field : obj) {
      if (field.key == wanted) found = SimdView(field.value);
    }
    return found;
  }
  bool is_null() const { return v_.is_null(); }
  bool is_string() const { return v_.is_string(); }
  bool is_object() const { return v_.is_object(); }
  bool is_array() const { return v_.is_array(); }
  bool is_integer() const {
    return v_.type() == simdjson::dom::element_type::INT64 ||
           v_.type() == simdjson::dom::element_type::UINT64;
  }
  std::string_view str() const { return v_.get_string().value_unsafe(); }
  std::optional<int64_t> integer() const {
    int64_t n = 0;
    if (v_.type() == simdjson::dom::element_type::INT64 && !v_.get_int64().get(n)) return n;
    return std::nullopt;  // a double, or an unsigned beyond int64
  }
  std::string integer_text() const {
    if (v_.type() == simdjson::dom::element_type::UINT64)
      return std::to_string(v_.get_uint64().value_unsafe());
    return std::to_string(v_.get_int64().value_unsafe());
  }

 private:
  simdjson::dom::element v_;
};

tl::unexpected<Error> Invalid(const std::string& message) {
  return Fail(ErrorKind::kInvalidInput, "invalid_webhook_payload",
              "The webhook payload is invalid: " + message,
              "Procore sends v2.0, v3.0 and v4.0 event payloads; check the hook's payload version.");
}

// A string of decimal digits that fits int64 (v4.0 ids).
template <typename View>
std::optional<int64_t> DigitsValue(const View& v) {
  if (!v.is_string()) return std::nullopt;
  const std::string_view s = v.str();
  if (s.empty() || s.size() > 19) return std::nullopt;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return ParseInt64(s);
}

bool IsUlid(std::string_view s) {
  if (s.size() != 26) return false;
  for (char c : s) {
    char u = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    bool digit = u >= '0' && u <= '9';
    bool letter = u >= 'A' && u <= 'Z' && u != 'I' && u != 'L' && u != 'O' && u != 'U';
    if (!digit && !letter) return false;
  }
  return s[0] <= '7';  // 128 bits: the first character carries only 3 of them
}

template <typename View>
Result<std::string> RequiredName(const View& obj, const char* key) {
  const auto v = obj.Field(key);
  if (!v) return Invalid(std::string("\"") + key + "\" is missing");
  if (!v->is_string()) return Invalid(std::string("\"") + key + "\" must be a string");
  const std::string_view s = v->str();
  if (Trim(s).empty()) return Invalid(std::string("\"") + key + "\" is empty");
  if (s.size() > kMaxNameLength) return Invalid(std::string("\"") + key + "\" is too long");
  return std::string(s);
}

template <typename View>
Result<std::pair<std::string, int64_t>> RequiredTimestamp(const View& obj) {
  const auto v = obj.Field("timestamp");
  if (!v) return Invalid("\"timestamp\" is missing");
  if (!v->is_string()) return Invalid("\"timestamp\" must be a string");
  const std::string s(v->str());
  auto ms = ParseIso8601(s);
  if (!ms || s.size() <= 10) return Invalid("\"timestamp\" is not an ISO-8601 date and time");
  return std::pair{s, *ms};
}

// An integer id (v2.0) that must be present; `positive` rejects 0 and negatives.
template <typename View>
Result<int64_t> RequiredInteger(const View& obj, const char* key, bool positive = true) {
  const auto v = obj.Field(key);
  if (!v || v->is_null()) return Invalid(std::string("\"") + key + "\" is missing");
  auto n = v->integer();
  if (!n) return Invalid(std::string("\"") + key + "\" must be an integer");
  if (positive && *n <= 0) return Invalid(std::string("\"") + key + "\" must be a positive integer");
  return *n;
}

// An integer id (v2.0) that may be absent or null.
template <typename View>
Result<std::optional<int64_t>> OptionalInteger(const View& obj, const char* key) {
  const auto v = obj.Field(key);
  if (!v || v->is_null()) return std::optional<int64_t>();
  auto n = v->integer();
  if (!n) return Invalid(std::string("\"") + key + "\" must be an integer or null");
  return std::optional<int64_t>(*n);
}

template <typename View>
Result<int64_t> RequiredDigits(const View& obj, const char* key) {
  const auto v = obj.Field(key);
  if (!v || v->is_null()) return Invalid(std::string("\"") + key + "\" is missing");
  auto n = DigitsValue(*v);
  if (!n) return Invalid(std::string("\"") + key + "\" must be a string of digits (v4.0 ids are strings)");
  if (*n <= 0) return Invalid(std::string("\"") + key + "\" must be a positive id");
  return *n;
}

template <typename View>
Result<std::optional<int64_t>> OptionalDigits(const View& obj, const char* key) {
  const auto v = obj.Field(key);
  if (!v || v->is_null()) return std::optional<int64_t>();
  auto n = DigitsValue(*v);
  if (!n)
    return Invalid(std::string("\"") + key + "\" must be a string of digits or null (v4.0 ids are strings)");
  return std::optional<int64_t>(*n);
}

template <typename View>
Result<WebhookEvent> ParseV2(const View& obj, std::string version) {
  WebhookEvent e;
  e.payload_version = std::move(version);
  auto id = RequiredInteger(obj, "id");
  if (!id) return tl::unexpected(id.error());
  e.event_id = *id;
  if (const auto ulid = obj.Field("ulid"); ulid && !ulid->is_null()) {
    if (!ulid->is_string() || !IsUlid(ulid->str())) {
      return Invalid("\"ulid\" must be a 26-character ULID");
    }
    e.event_key = ToLower(ulid->str());
  } else {
    e.event_key = "id:" + std::to_string(e.event_id);
  }
  auto ts = RequiredTimestamp(obj);
  if (!ts) return tl::unexpected(ts.error());
  std::tie(e.timestamp, e.timestamp_ms) = *ts;
  auto resource = RequiredName(obj, "resource_name");
  if (!resource) return tl::unexpected(resource.error());
  e.resource_name = std::move(*resource);
  auto type = RequiredName(obj, "event_type");
  if (!type) return tl::unexpected(type.error());
  e.event_type = ToLower(*type);
  if (e.event_type != "create" && e.event_type != "update" && e.event_type != "delete") {
    return Invalid("\"event_type\" must be create, update or delete");
  }
  auto resource_id = RequiredInteger(obj, "resource_id");
  if (!resource_id) return tl::unexpected(resource_id.error());
  e.resource_id = *resource_id;
  auto company = RequiredInteger(obj, "company_id");
  if (!company) return tl::unexpected(company.error());
  e.company_id = *company;
  auto project = OptionalInteger(obj, "project_id");
  if (!project) return tl::unexpected(project.error());
  e.project_id = *project;
  auto user = OptionalInteger(obj, "user_id");
  if (!user) return tl::unexpected(user.error());
  e.user_id = *user;

  if (const auto metadata = obj.Field("metadata"); metadata && !metadata->is_null()) {
    if (!metadata->is_object()) return Invalid("\"metadata\" must be an object");
    if (const auto app = metadata->Field("source_application_id"); app && !app->is_null()) {
      // Procore documents a client id (a string); accept a number too rather than lose the echo check.
      if (app->is_string()) {
        e.source_application_id = std::string(app->str());
      } else if (app->is_integer()) {
        e.source_application_id = app->integer_text();
      } else {
        return Invalid("\"metadata.source_application_id\" must be a string or null");
      }
    }
    for (const char* key : {"source_user_id", "source_project_id", "source_company_id"}) {
      auto v = OptionalInteger(*metadata, key);
      if (!v) return Invalid(std::string("\"metadata.") + key + "\" must be an integer or null");
      if (std::string_view(key) == "source_user_id") e.source_user_id = *v;
    }
  }
  if (const auto related = obj.Field("related_resources");
      related && !related->is_null() && !related->is_array()) {
    return Invalid("\"related_resources\" must be an array");
  }
  return e;
}

template <typename View>
Result<WebhookEvent> ParseV4(const View& obj) {
  WebhookEvent e;
  e.payload_version = "v4.0";
  const auto id = obj.Field("id");
  if (!id) return Invalid("\"id\" is missing");
  if (!id->is_string() || !IsUlid(id->str())) {
    return Invalid("\"id\" must be a 26-character ULID string in a v4.0 payload");
  }
  e.event_key = ToLower(id->str());
  auto ts = RequiredTimestamp(obj);
  if (!ts) return tl::unexpected(ts.error());
  std::tie(e.timestamp, e.timestamp_ms) = *ts;
  auto resource = RequiredName(obj, "resource_type");
  if (!resource) return tl::unexpected(resource.error());
  e.resource_name = std::move(*resource);
  auto reason = RequiredName(obj, "reason");
  if (!reason) return tl::unexpected(reason.error());
  e.event_type = ToLower(*reason);  // may name reasons beyond create/update/delete
  auto resource_id = RequiredDigits(obj, "resource_id");
  if (!resource_id) return tl::unexpected(resource_id.error());
  e.resource_id = *resource_id;
  auto company = RequiredDigits(obj, "company_id");
  if (!company) return tl::unexpected(company.error());
  e.company_id = *company;
  auto project = OptionalDigits(obj, "project_id");
  if (!project) return tl::unexpected(project.error());
  e.project_id = *project;
  auto user = OptionalDigits(obj, "user_id");
  if (!user) return tl::unexpected(user.error());
  e.user_id = *user;
  if (const auto data = obj.Field("data"); data && !data->is_null() && !data->is_object()) {
    return Invalid("\"data\" must be an object");
  }
  return e;
}

template <typename View>
Result<WebhookEvent> ParseRoot(const View& obj) {
  if (!obj.is_object()) return Invalid("the body must be a JSON object");

  if (const auto version = obj.Field("api_version"); version && !version->is_null()) {
    if (!version->is_string()) return Invalid("\"api_version\" must be a string");
    const std::string_view v = version->str();
    if (v == "v2.0" || v == "v2") return ParseV2(obj, "v2.0");
    if (v == "v3.0" || v == "v3") return ParseV2(obj, "v3.0");
    if (v == "v4.0" || v == "v4") return ParseV4(obj);
    return Invalid("unknown \"api_version\" \"" + std::string(v.substr(0, 20)) + "\"");
  }
  // v4.0 carries no version field: it is told apart by its field names.
  bool v4 = obj.Field("resource_type") || obj.Field("reason");
  bool v2 = obj.Field("resource_name") || obj.Field("event_type");
  if (v4 && v2) return Invalid("the body mixes v2.0 and v4.0 field names");
  if (v4) return ParseV4(obj);
  if (v2) return ParseV2(obj, "v2.0");
  return Invalid("\"resource_name\" (v2.0) or \"resource_type\" (v4.0) is missing");
}

}  // namespace

Result<WebhookEvent> ParseWebhookEvent(std::string_view body) {
  // One parser per thread, reused: its buffers grow to the largest body seen and stay.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (!parser.parse(body.data(), body.size()).get(root)) return ParseRoot(SimdView(root));
  Json obj = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded()) return Invalid("the body is not valid JSON");
  return ParseRoot(NlohmannView(obj));
}

}  // namespace kt::sync
