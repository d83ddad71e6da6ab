#pragma once

#include <string>
#include <string_view>

namespace kinesyslog::aws {

// Percent-encoding (RFC 3986 §2.1) of every byte but the unreserved characters of §2.3
// (A-Z a-z 0-9 - . _ ~), with uppercase hex digits: SigV4's UriEncode and the value encoding
// the AWS query protocol expects in form bodies. '/' is encoded too (callers that keep path
// separators encode segment by segment), and a space is %20, never '+'.
void appendUriEncoded(std::string& out, std::string_view text);
std::string uriEncode(std::string_view text);

}  // namespace kinesyslog::aws
