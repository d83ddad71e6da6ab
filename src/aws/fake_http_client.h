#pragma once

#include <algorithm>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aws/http_client.h"

// Test support, header-only and free of GoogleTest so that the library's source glob is not
// affected: the HttpClient stand-in the AWS and delivery tests share.
namespace kinesyslog::aws::testing {

// Records every request and answers from canned responses, without a network:
// - per route ("METHOD url", exact): on() adds answers that are given in order, the last one
//   repeating (IMDS, container endpoints);
// - any other request takes the next answer() from one queue (Firehose, STS);
// - when neither has an answer: `unanswered`, a transport failure ("connection refused").
// Not thread-safe, like the clients it stands in for.
class FakeHttpClient final : public HttpClient {
 public:
  HttpResponse send(const HttpRequest& request) override {
    requests.push_back(request);
    const auto route = routes_.find(request.method + " " + request.url);
    if (route != routes_.end() && !route->second.empty()) {
      HttpResponse response = route->second.front();
      if (route->second.size() > 1) route->second.pop_front();
      return response;
    }
    if (!responses.empty()) {
      HttpResponse response = std::move(responses.front());
      responses.pop_front();
      return response;
    }
    return unanswered;
  }

  // Queues an answer for the next request that no route matches.
  void answer(int status, std::string body, HttpHeaders headers = {}) {
    responses.push_back({status, std::move(headers), std::move(body), {}});
  }

  // Adds an answer for `method` `url`.
  void on(const std::string& method, const std::string& url, HttpResponse response) {
    routes_[method + " " + url].push_back(std::move(response));
  }
  void on(const std::string& method, const std::string& url, int status, std::string body) {
    on(method, url, HttpResponse{status, {}, std::move(body), {}});
  }

  // Forgets every canned answer (routes and queue); the recorded requests stay.
  void clear() {
    routes_.clear();
    responses.clear();
  }

  std::vector<HttpRequest> requests;
  std::deque<HttpResponse> responses;  // the queue answer() fills
  HttpResponse unanswered{0, {}, {}, "connection refused"};

 private:
  std::map<std::string, std::deque<HttpResponse>> routes_;
};

// The value of the first header called `name` (case-insensitive, RFC 9110 §5.1) of a recorded
// request; nullopt when it has none.
inline std::optional<std::string> headerOf(const HttpRequest& request, std::string_view name) {
  const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  for (const auto& [key, value] : request.headers) {
    if (key.size() == name.size() &&
        std::equal(key.begin(), key.end(), name.begin(),
                   [&](char a, char b) { return lower(a) == lower(b); })) {
      return value;
    }
  }
  return std::nullopt;
}

}  // namespace kinesyslog::aws::testing
