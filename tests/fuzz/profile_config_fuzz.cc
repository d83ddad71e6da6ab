// Fuzz target for the shared AWS config and credentials file reader (src/aws/profile_config.h):
// an INI file as Python's configparser reads it, then the profiles of each file. The input is
// the file's text. Invariants:
//  - keys are lowercase, non-empty, trimmed and free of `=` and `:`; section names non-empty
//    and trimmed; a key is a plain value or a nested sub-section, never both; plain values are
//    trimmed at both ends;
//  - written back out as an INI file (sections once each, continuation lines indented, nested
//    sub-sections as `key =` and indented `k = v` lines) and read again, the sections are the
//    same: nothing the reader accepted depends on how it was laid out;
//  - the config file's profiles are `default` or a `[profile NAME]` with a single-word NAME,
//    and hold only keys of sections of the file; the credentials file's profiles are exactly
//    its sections.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "aws/profile_config.h"

namespace {

using kinesyslog::aws::IniSections;
using kinesyslog::aws::Profile;

constexpr std::string_view kWhitespace = " \t\r\f\v";

bool trimmed(std::string_view text) {
  return text.empty() || (kWhitespace.find(text.front()) == std::string_view::npos &&
                          kWhitespace.find(text.back()) == std::string_view::npos);
}

bool sameProfile(const Profile& a, const Profile& b) {
  return a.values == b.values && a.nested == b.nested;
}

bool sameSections(const IniSections& a, const IniSections& b) {
  if (a.size() != b.size()) return false;
  for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
    if (ia->first != ib->first || !sameProfile(ia->second, ib->second)) return false;
  }
  return true;
}

std::string write(const IniSections& sections) {
  std::string out;
  for (const auto& [name, profile] : sections) {
    out += '[' + name + "]\n";
    for (const auto& [key, value] : profile.values) {
      out += key + " = ";
      for (char c : value) {
        out += c;
        if (c == '\n') out += "  ";  // continuation lines are indented
      }
      out += '\n';
    }
    for (const auto& [key, block] : profile.nested) {
      out += key + " =\n";
      for (const auto& [k, v] : block) out += "  " + k + " = " + v + "\n";
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const IniSections sections = kinesyslog::aws::parseIni(text);
  for (const auto& [name, profile] : sections) {
    if (name.empty() || !trimmed(name)) __builtin_trap();
    for (const auto& [key, value] : profile.values) {
      if (key.empty() || !trimmed(key) ||
          key.find_first_of("=:ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos) {
        __builtin_trap();
      }
      if (!trimmed(value) || profile.nested.count(key) != 0) __builtin_trap();
    }
    for (const auto& [key, block] : profile.nested) {
      if (key.empty() || !trimmed(key)) __builtin_trap();
      for (const auto& [k, v] : block) {
        if (!trimmed(k) || !trimmed(v) || k.find('=') != std::string::npos) __builtin_trap();
      }
    }
  }

  // Nested sub-sections with no line left read back as a plain empty value (configparser sees
  // just `key =`): compare what a reader can tell apart.
  IniSections comparable = sections;
  for (auto& [name, profile] : comparable) {
    for (auto it = profile.nested.begin(); it != profile.nested.end();) {
      if (it->second.empty()) {
        profile.values[it->first] = "";
        it = profile.nested.erase(it);
      } else {
        ++it;
      }
    }
  }
  const std::string written = write(comparable);
  if (!sameSections(kinesyslog::aws::parseIni(written), comparable)) __builtin_trap();

  for (const auto& [name, profile] : kinesyslog::aws::configFileProfiles(text)) {
    if (name.empty() || name.find_first_of(kWhitespace) != std::string::npos) __builtin_trap();
    for (const auto& [key, value] : profile.values) {
      bool found = false;
      for (const auto& [section, settings] : sections) found |= settings.values.count(key) != 0;
      if (!found) __builtin_trap();
    }
  }
  const auto credentials = kinesyslog::aws::credentialsFileProfiles(text);
  if (credentials.size() != sections.size()) __builtin_trap();
  for (const auto& [name, profile] : credentials) {
    const auto it = sections.find(name);
    if (it == sections.end() || !sameProfile(it->second, profile)) __builtin_trap();
  }
  return 0;
}
