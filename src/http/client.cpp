// Fetch on libcurl: one easy handle per thread, reset between calls so its connections stay alive.
#include "http/client.h"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>

namespace kt::http {
namespace {

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw std::runtime_error("curl_global_init failed");
  });
}

// The calling thread's easy handle; cleaned up when the thread ends.
class ThreadHandle {
 public:
  ThreadHandle() {
    GlobalInitOnce();
    handle_ = curl_easy_init();
    if (!handle_) throw std::runtime_error("curl_easy_init failed");
  }
  ~ThreadHandle() { curl_easy_cleanup(handle_); }
  ThreadHandle(const ThreadHandle&) = delete;
  ThreadHandle& operator=(const ThreadHandle&) = delete;
  CURL* get() { return handle_; }

 private:
  CURL* handle_;
};

// The body is appended in curl's pieces. Its first piece reserves the announced Content-Length (bounded, as
// the number is the server's) and kBodySpareBytes, so a page is not copied again each time the string
// doubles, nor when the pager pads it for simdjson.
constexpr curl_off_t kMaxReserveBytes = curl_off_t{16} * 1024 * 1024;

struct BodySink {
  std::string* body;
  CURL* curl;
  bool sized = false;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  if (!sink->sized) {
    sink->sized = true;
    curl_off_t length = -1;
    if (curl_easy_getinfo(sink->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) == CURLE_OK && length > 0)
      sink->body->reserve(static_cast<size_t>(std::min(length, kMaxReserveBytes)) + kBodySpareBytes);
  }
  sink->body->append(data, size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* headers = static_cast<Headers*>(user);
  std::string_view line(data, size * n);
  if (StartsWith(line, "HTTP/")) {
    // A new status line (after a 100 Continue, say): only the final response's headers count.
    *headers = Headers();
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    headers->Add(std::string(Trim(line.substr(0, colon))), std::string(Trim(line.substr(colon + 1))));
  }
  return size * n;
}

void SetTransportError(CURLcode code, const char* detail, ClientResponse& out) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      out.transport_error = "timeout";
      out.timed_out = true;
      break;
    case CURLE_COULDNT_CONNECT:
      out.transport_error = "connection_refused";
      break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      out.transport_error = "dns";
      break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
      out.transport_error = "tls";
      break;
    default:
      out.transport_error = detail && *detail ? detail : curl_easy_strerror(code);
  }
}

}  // namespace

constexpr long kReceiveBufferBytes = 256L * 1024;

ClientResponse Fetch(const ClientRequest& request) {
  thread_local ThreadHandle thread_handle;
  CURL* curl = thread_handle.get();
  // Reset keeps live connections, the DNS cache and the TLS session cache.
  curl_easy_reset(curl);

  ClientResponse out;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  // A page of 1,000 Procore records is several hundred KB: read it in large pieces rather than curl's
  // default 16 KB, each of which was a poll and a recv.
  curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, kReceiveBufferBytes);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  BodySink sink{&out.body, curl};
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &out.headers);

  const std::string& method = request.method;
  if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (!request.body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    if (method != "POST") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  } else if (method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  }

  curl_slist* header_list = nullptr;
  bool has_content_type = false;
  for (const auto& [name, value] : request.headers.items()) {
    if (IEquals(name, "content-type")) has_content_type = true;
    std::string line = value.empty() ? name + ";" : name + ": " + value;
    header_list = curl_slist_append(header_list, line.c_str());
  }
  // No "Expect: 100-continue" round trip; and no form content type slipped in for JSON callers who forgot.
  header_list = curl_slist_append(header_list, "Expect:");
  if (!has_content_type && !request.body.empty()) {
    header_list = curl_slist_append(header_list, "Content-Type: application/octet-stream");
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);

  CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(header_list);
  if (code != CURLE_OK) {
    SetTransportError(code, error_buffer, out);
    out.status = 0;
    return out;
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  out.status = static_cast<int>(status);
  return out;
}

}  // namespace kt::http
