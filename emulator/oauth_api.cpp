// Procore's OAuth endpoints for client credentials: token, token info and revoke.
#include <cctype>

#include "emulator/emulator.h"
#include "emulator/rest_support.h"
#include "util/hash.h"
#include "util/strings.h"

namespace procore_emulator {

using kt::http::Request;
using kt::http::Response;

namespace {

Response OAuthError(int status, std::string error, std::string description) {
  return Response::Json(status, {{"error", std::move(error)}, {"error_description", std::move(description)}});
}

std::string Base64Decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  int bits = 0, acc = 0;
  for (char c : in) {
    int v = value(c);
    if (v < 0) continue;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

// Minimal multipart/form-data reader: the text fields of each part.
kt::QueryParams ParseMultipart(const std::string& body, const std::string& content_type) {
  kt::QueryParams out;
  size_t b = content_type.find("boundary=");
  if (b == std::string::npos) return out;
  std::string boundary = content_type.substr(b + 9);
  if (!boundary.empty() && boundary.front() == '"') boundary = boundary.substr(1, boundary.find('"', 1) - 1);
  if (size_t semi = boundary.find(';'); semi != std::string::npos) boundary.resize(semi);
  std::string delimiter = "--" + boundary;
  size_t pos = body.find(delimiter);
  while (pos != std::string::npos) {
    pos += delimiter.size();
    if (body.compare(pos, 2, "--") == 0) break;
    size_t headers_end = body.find("\r\n\r\n", pos);
    if (headers_end == std::string::npos) break;
    std::string headers = body.substr(pos, headers_end - pos);
    size_t next = body.find(delimiter, headers_end);
    if (next == std::string::npos) break;
    std::string value = body.substr(headers_end + 4, next - headers_end - 4);
    if (value.size() >= 2 && value.compare(value.size() - 2, 2, "\r\n") == 0) value.resize(value.size() - 2);
    size_t name = headers.find("name=\"");
    if (name != std::string::npos) {
      size_t end = headers.find('"', name + 6);
      out.emplace_back(headers.substr(name + 6, end - name - 6), value);
    }
    pos = next;
  }
  return out;
}

// The OAuth parameters from whichever encoding the client used (form, multipart, JSON, or the query).
kt::QueryParams OAuthParams(const Request& req) {
  std::string content_type = kt::ToLower(req.Header("Content-Type").value_or(""));
  kt::QueryParams params = req.query;
  if (content_type.find("application/json") != std::string::npos) {
    auto json = nlohmann::json::parse(req.body, nullptr, false);
    if (json.is_object())
      for (const auto& [k, v] : json.items())
        params.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
  } else if (content_type.find("multipart/form-data") != std::string::npos) {
    auto parts = ParseMultipart(req.body, req.Header("Content-Type").value_or(""));
    params.insert(params.end(), parts.begin(), parts.end());
  } else if (!req.body.empty()) {
    auto form = kt::ParseQuery(req.body);
    params.insert(params.end(), form.begin(), form.end());
  }
  // HTTP Basic client authentication, as many OAuth libraries send it.
  std::string auth = req.Header("Authorization").value_or("");
  if (auth.size() > 6 && kt::IEquals(auth.substr(0, 6), "basic ")) {
    std::string decoded = Base64Decode(kt::Trim(auth.substr(6)));
    size_t colon = decoded.find(':');
    if (colon != std::string::npos) {
      params.emplace_back("client_id", kt::UrlDecode(decoded.substr(0, colon)));
      params.emplace_back("client_secret", kt::UrlDecode(decoded.substr(colon + 1)));
    }
  }
  return params;
}

constexpr const char* kInvalidClient =
    "Client authentication failed due to unknown client, no client authentication included, or unsupported "
    "authentication method.";

}  // namespace

void Emulator::AddOAuthRoutes(kt::http::Router& router) {
  ApiOptions oauth{.oauth = true, .installed = false};

  Api(
      router, "POST", "/oauth/token",
      [this](Call& call) {
        kt::QueryParams params = OAuthParams(call.req);
        std::string grant = kt::FindParam(params, "grant_type").value_or("");
        std::string client_id = kt::FindParam(params, "client_id").value_or("");
        std::string secret = kt::FindParam(params, "client_secret").value_or("");
        if (grant.empty())
          return OAuthError(
              400, "invalid_request",
              "The request is missing a required parameter, includes an unsupported parameter value, "
              "or is otherwise malformed. Missing grant_type.");
        if (grant == "authorization_code" || grant == "refresh_token")
          return OAuthError(
              400, "invalid_grant",
              "The provided authorization grant is invalid, expired, revoked, does not match the "
              "redirection URI used in the authorization request, or was issued to another client. "
              "(The emulator supports client_credentials only.)");
        if (grant != "client_credentials")
          return OAuthError(400, "unsupported_grant_type",
                            "The authorization grant type is not supported by the authorization server.");
        const App* app = access_.FindApp(client_id);
        if (!app || !kt::ConstantTimeEquals(app->client_secret, secret))
          return OAuthError(401, "invalid_client", kInvalidClient);
        if (app->legacy_service_account)
          return OAuthError(
              401, "invalid_client",
              "Service account credentials are no longer accepted: traditional service accounts were "
              "sunset on March 18, 2025. Install a Developer Managed Service Account (DMSA) app and use "
              "its client ID and secret.");
        const AccessToken& token =
            access_.IssueToken(app->client_id, clock_.NowMs(), faults_.token_lifetime_s);
        return Response::Json(200, {{"access_token", token.token},
                                    {"token_type", "bearer"},
                                    {"expires_in", (token.expires_at_ms - token.created_at_ms) / 1000},
                                    {"created_at", token.created_at_ms / 1000}});
      },
      oauth);

  Api(
      router, "GET", "/oauth/token/info",
      [this](Call& call) {
        std::string auth = call.req.Header("Authorization").value_or("");
        std::string_view token = kt::Trim(auth);
        if (token.size() > 7 && kt::IEquals(token.substr(0, 7), "bearer "))
          token = kt::Trim(token.substr(7));
        else if (auto q = call.req.Query("access_token"))
          token = *q;
        else
          token = {};
        const AccessToken* t = access_.FindToken(token);
        if (!t || t->revoked) return OAuthError(401, "invalid_token", "The access token is invalid");
        int64_t left_ms = t->expires_at_ms - clock_.NowMs();
        if (left_ms <= 0) return OAuthError(401, "invalid_token", "The access token expired");
        const App* app = access_.FindApp(t->client_id);
        return Response::Json(200, {{"resource_owner_id", app ? app->user_id : 0},
                                    {"scopes", nlohmann::json::array()},
                                    {"expires_in_seconds", left_ms / 1000},
                                    {"application", {{"uid", t->client_id}}},
                                    {"created_at", t->created_at_ms / 1000}});
      },
      oauth);

  Api(
      router, "POST", "/oauth/revoke",
      [this](Call& call) {
        kt::QueryParams params = OAuthParams(call.req);
        std::string token = kt::FindParam(params, "token").value_or("");
        std::string client_id = kt::FindParam(params, "client_id").value_or("");
        std::string secret = kt::FindParam(params, "client_secret").value_or("");
        if (!client_id.empty()) {
          const App* app = access_.FindApp(client_id);
          if (!app || !kt::ConstantTimeEquals(app->client_secret, secret))
            return OAuthError(403, "unauthorized_client", "You are not authorized to revoke this token");
        }
        // 200 even for an unknown token, as Procore documents.
        access_.Revoke(token, client_id);
        return Response::Json(200, nlohmann::json::object());
      },
      oauth);
}

}  // namespace procore_emulator
