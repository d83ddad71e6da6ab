#include "aws/curl_http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kinesyslog::aws {
namespace {

// AWS answers (errors, DescribeDeliveryStream, STS XML, PutRecordBatch results for 500 records)
// are a few KiB; anything near this cap is not an AWS endpoint talking.
constexpr size_t kMaxResponseBodyBytes = 16 * 1024 * 1024;
constexpr size_t kMaxResponseHeaders = 256;
constexpr long kMaxConnectTimeoutMs = 5000;

std::once_flag globalInitOnce;
CURLcode globalInitResult = CURLE_OK;

// curl_global_init is not thread-safe and must run before any other libcurl call; once per
// process, never cleaned up (the handles live until exit).
CURLcode initLibcurl() {
  std::call_once(globalInitOnce, [] { globalInitResult = curl_global_init(CURL_GLOBAL_DEFAULT); });
  return globalInitResult;
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

struct Transfer {
  HttpResponse* response = nullptr;
  bool bodyTooLarge = false;
};

std::string_view trimWhitespace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

size_t onBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  if (transfer->response->body.size() + bytes > kMaxResponseBodyBytes) {
    transfer->bodyTooLarge = true;
    return 0;  // CURLE_WRITE_ERROR ends the transfer
  }
  transfer->response->body.append(data, bytes);
  return bytes;
}

// Called once per header line, status lines included. Every "HTTP/..." line starts a new header
// block (1xx interim answers come first), so only the final answer's headers are kept.
size_t onHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  const std::string_view line(data, bytes);
  HttpHeaders& headers = transfer->response->headers;
  if (line.starts_with("HTTP/")) {
    headers.clear();
    return bytes;
  }
  if (line.empty() || line == "\r\n" || line == "\n") return bytes;
  if ((line.front() == ' ' || line.front() == '\t') && !headers.empty()) {
    // obs-fold (RFC 9112 §5.2): the line continues the previous value.
    headers.back().second.push_back(' ');
    headers.back().second.append(trimWhitespace(line));
    return bytes;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || headers.size() >= kMaxResponseHeaders) return bytes;
  headers.emplace_back(std::string(trimWhitespace(line.substr(0, colon))),
                       std::string(trimWhitespace(line.substr(colon + 1))));
  return bytes;
}

bool hasLineBreakOrNul(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

char asciiLower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return asciiLower(x) == asciiLower(y);
         });
}

HttpResponse transportFailure(std::string error) {
  HttpResponse response;
  response.error = std::move(error);
  return response;
}

}  // namespace

CurlHttpClient::CurlHttpClient() : CurlHttpClient(Options{}) {}

CurlHttpClient::CurlHttpClient(Options options) : options_(std::move(options)) {
  if (initLibcurl() == CURLE_OK) curl_ = curl_easy_init();
}

CurlHttpClient::~CurlHttpClient() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

namespace {

// The request's headers as libcurl's list; returns what is wrong with them, or "".
std::string buildHeaders(const HttpRequest& request, HeaderList& headers) {
  // Headers come from our own code, but a line break in one would smuggle another header in.
  bool hasContentType = false;
  for (const auto& [name, value] : request.headers) {
    if (name.empty() || hasLineBreakOrNul(name) || hasLineBreakOrNul(value) ||
        name.find(':') != std::string::npos) {
      return "invalid request header '" + name + "'";
    }
    hasContentType = hasContentType || equalsIgnoreCase(name, "Content-Type");
    // "Name;" is libcurl's way to send a header with an empty value ("Name:" would remove it).
    const std::string line = value.empty() ? name + ";" : name + ": " + value;
    curl_slist* appended = curl_slist_append(headers.get(), line.c_str());
    if (appended == nullptr) return "out of memory building request headers";
    headers.release();
    headers.reset(appended);
  }
  // "Name:" removes a header libcurl would add by itself: Expect: 100-continue would cost a round
  // trip on every large POST; Accept: */* is noise; a POST without a Content-Type of ours would
  // otherwise claim application/x-www-form-urlencoded.
  std::vector<const char*> removals = {"Expect:", "Accept:"};
  if (!hasContentType) removals.push_back("Content-Type:");
  for (const char* removal : removals) {
    curl_slist* appended = curl_slist_append(headers.get(), removal);
    if (appended == nullptr) return "out of memory building request headers";
    headers.release();
    headers.reset(appended);
  }
  return "";
}

void setMethod(CURL* curl, const HttpRequest& request) {
  const std::string& method = request.method;
  if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (method == "POST" || method == "PUT" || !request.body.empty()) {
    // The body is sent from the request's own buffer (not copied); it outlives the transfer.
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    if (method != "POST") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  } else if (method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  } else {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  }
}

}  // namespace

HttpResponse CurlHttpClient::send(const HttpRequest& request) {
  CURL* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) return transportFailure("libcurl could not be initialised");

  HeaderList headers;
  if (std::string error = buildHeaders(request, headers); !error.empty()) {
    return transportFailure(std::move(error));
  }

  // Reset keeps live connections, the DNS cache and TLS session ids (curl_easy_reset(3)), so
  // keep-alive survives while no option of the previous request leaks into this one.
  curl_easy_reset(curl);
  HttpResponse response;
  Transfer transfer{&response};
  char errorText[CURL_ERROR_SIZE] = {};
  const long timeoutMs = std::max<long>(1, static_cast<long>(request.timeout.count()));

  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errorText);
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  // AWS JSON and query endpoints speak HTTP/1.1; one request at a time gains nothing from h2.
  curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  // No signals: libcurl would otherwise use SIGALRM for DNS timeouts, unsafe in threads.
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeoutMs);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, std::min(timeoutMs, kMaxConnectTimeoutMs));
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.caFile.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.caFile.c_str());
  // The proxy's answer to CONNECT is not the server's: keep it out of the response headers.
  curl_easy_setopt(curl, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, onBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, onHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);

  setMethod(curl, request);

  const CURLcode result = curl_easy_perform(curl);
  // The handle must not keep pointers into this frame once we return.
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);

  if (result != CURLE_OK) {
    std::string error =
        transfer.bodyTooLarge
            ? "response body over " + std::to_string(kMaxResponseBodyBytes) + " bytes"
            : std::string(errorText[0] != '\0' ? errorText : curl_easy_strerror(result));
    error += " (curl error " + std::to_string(static_cast<int>(result)) + ")";
    return transportFailure(std::move(error));
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  if (status <= 0) return transportFailure("no HTTP status in the answer");
  response.status = static_cast<int>(status);
  return response;
}

}  // namespace kinesyslog::aws
