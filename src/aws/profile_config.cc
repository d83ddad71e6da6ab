#include "aws/profile_config.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace kinesyslog::aws {

namespace {

constexpr std::string_view kWhitespace = " \t\r\f\v";

std::string_view trim(std::string_view text) {
  const size_t begin = text.find_first_not_of(kWhitespace);
  if (begin == std::string_view::npos) return {};
  const size_t end = text.find_last_not_of(kWhitespace);
  return text.substr(begin, end - begin + 1);
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// A value whose first line is empty and that continues on indented lines is a nested
// sub-section (botocore's _parse_nested): one `key = value` per line.
std::map<std::string, std::string> parseNested(std::string_view block) {
  std::map<std::string, std::string> out;
  while (!block.empty()) {
    const size_t eol = block.find('\n');
    const std::string_view line = trim(block.substr(0, eol));
    block = eol == std::string_view::npos ? std::string_view{} : block.substr(eol + 1);
    const size_t eq = line.find('=');
    if (line.empty() || eq == std::string_view::npos) continue;  // botocore would refuse the file
    out[std::string(trim(line.substr(0, eq)))] = std::string(trim(line.substr(eq + 1)));
  }
  return out;
}

// Raw values while parsing: each option's lines, joined at the end as configparser does.
struct RawOption {
  std::string section;
  std::string key;
  std::vector<std::string> lines;
};

void commit(IniSections& sections, RawOption& option) {
  if (option.key.empty()) return;
  // configparser drops trailing empty lines of a multi-line value.
  while (option.lines.size() > 1 && option.lines.back().empty()) option.lines.pop_back();
  Profile& profile = sections[option.section];
  if (option.lines.size() > 1 && option.lines.front().empty()) {
    std::string block;
    for (size_t i = 1; i < option.lines.size(); ++i) block += option.lines[i] + "\n";
    profile.values.erase(option.key);
    profile.nested[option.key] = parseNested(block);
  } else {
    std::string value;
    for (size_t i = 0; i < option.lines.size(); ++i) {
      if (i != 0) value += '\n';
      value += option.lines[i];
    }
    profile.nested.erase(option.key);
    profile.values[option.key] = std::move(value);
  }
  option = RawOption{option.section, {}, {}};
}

void mergeInto(Profile& target, const Profile& source) {
  for (const auto& [key, value] : source.values) {
    target.nested.erase(key);
    target.values[key] = value;
  }
  for (const auto& [key, value] : source.nested) {
    target.values.erase(key);
    target.nested[key] = value;
  }
}

std::optional<std::string> readWholeFile(const std::string& path,
                                         std::vector<std::string>& warnings) {
  if (path.empty()) return std::nullopt;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    // ENOENT/ENOTDIR: simply no file. Anything else (EACCES on a parent) deserves a warning.
    if (errno != ENOENT && errno != ENOTDIR) {
      warnings.push_back(path + ": " + std::strerror(errno));
    }
    return std::nullopt;
  }
  if (!S_ISREG(st.st_mode)) {
    warnings.push_back(path + ": not a regular file");
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    warnings.push_back(path + ": cannot be read");
    return std::nullopt;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string expandHome(const std::string& path, const EnvLookup& env) {
  if (path.empty() || path[0] != '~') return path;
  if (path.size() > 1 && path[1] != '/') return path;  // ~user: not supported, used literally
  const std::optional<std::string> home = envValue(env, "HOME");
  if (!home) return {};
  return *home + path.substr(1);
}

}  // namespace

EnvLookup processEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::optional<std::string> envValue(const EnvLookup& env, const std::string& name) {
  if (!env) return std::nullopt;
  std::optional<std::string> value = env(name);
  if (!value || value->empty()) return std::nullopt;
  return value;
}

std::optional<std::string> Profile::get(const std::string& key) const {
  const auto it = values.find(key);
  if (it == values.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

IniSections parseIni(std::string_view text) {
  IniSections sections;
  std::optional<std::string> section;  // nullopt before the first header
  RawOption option;
  size_t optionIndent = 0;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

    const std::string_view stripped = trim(line);
    if (!stripped.empty() && (stripped.front() == '#' || stripped.front() == ';')) continue;
    if (stripped.empty()) {
      // configparser keeps blank lines inside a multi-line value (trailing ones are dropped).
      if (!option.key.empty()) option.lines.emplace_back();
      continue;
    }
    const size_t indent = line.find_first_not_of(kWhitespace);
    if (!option.key.empty() && indent > optionIndent) {
      option.lines.emplace_back(stripped);
      continue;
    }
    commit(sections, option);
    optionIndent = indent;

    if (stripped.front() == '[') {
      const size_t close = stripped.rfind(']');
      const std::string_view header = close == std::string_view::npos || close < 2
                                          ? std::string_view{}
                                          : trim(stripped.substr(1, close - 1));
      if (header.empty()) {
        section.reset();  // a broken header: skip its lines rather than file them elsewhere
      } else {
        section = std::string(header);
        sections[*section];  // an empty section still exists (e.g. [profile x] with no keys)
      }
      continue;
    }
    if (!section) continue;
    const size_t delimiter = stripped.find_first_of("=:");
    if (delimiter == std::string_view::npos) continue;
    const std::string key = lowercase(trim(stripped.substr(0, delimiter)));
    if (key.empty()) continue;
    option.section = *section;
    option.key = key;
    option.lines.assign(1, std::string(trim(stripped.substr(delimiter + 1))));
  }
  commit(sections, option);
  return sections;
}

std::map<std::string, Profile> configFileProfiles(std::string_view text) {
  std::map<std::string, Profile> profiles;
  // Walk in file order so that `[default]` and `[profile default]` merge with the later winning;
  // parseIni sorts sections, so find their order first.
  const IniSections sections = parseIni(text);
  std::vector<std::string> order;
  {
    std::string_view rest = text;
    while (!rest.empty()) {
      const size_t eol = rest.find('\n');
      const std::string_view stripped = trim(rest.substr(0, eol));
      rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
      if (stripped.empty() || stripped.front() != '[') continue;
      const size_t close = stripped.rfind(']');
      if (close == std::string_view::npos || close < 2) continue;
      order.emplace_back(trim(stripped.substr(1, close - 1)));
    }
  }
  std::map<std::string, bool> seen;
  for (const std::string& header : order) {
    if (seen[header]) continue;
    seen[header] = true;
    const auto it = sections.find(header);
    if (it == sections.end()) continue;
    std::string name;
    if (header == "default") {
      name = "default";
    } else if (header.rfind("profile", 0) == 0 && header.size() > 7 &&
               kWhitespace.find(header[7]) != std::string_view::npos) {
      std::string_view rest = trim(std::string_view(header).substr(7));
      if (rest.size() >= 2 && (rest.front() == '"' || rest.front() == '\'') &&
          rest.back() == rest.front()) {
        rest = rest.substr(1, rest.size() - 2);
      }
      if (rest.empty() || rest.find_first_of(kWhitespace) != std::string_view::npos) {
        continue;  // botocore's shlex split must give exactly two words
      }
      name = std::string(rest);
    } else {
      continue;
    }
    mergeInto(profiles[name], it->second);
  }
  return profiles;
}

std::map<std::string, Profile> credentialsFileProfiles(std::string_view text) {
  IniSections sections = parseIni(text);
  return {sections.begin(), sections.end()};
}

const Profile* ProfileConfig::configProfile(const std::string& name) const {
  const auto it = configFile.find(name);
  return it == configFile.end() ? nullptr : &it->second;
}

const Profile* ProfileConfig::credentialsProfile(const std::string& name) const {
  const auto it = credentialsFile.find(name);
  return it == credentialsFile.end() ? nullptr : &it->second;
}

bool ProfileConfig::hasProfile(const std::string& name) const {
  return configProfile(name) != nullptr || credentialsProfile(name) != nullptr;
}

Profile ProfileConfig::merged(const std::string& name) const {
  Profile out;
  if (const Profile* config = configProfile(name)) out = *config;
  if (const Profile* credentials = credentialsProfile(name)) mergeInto(out, *credentials);
  return out;
}

std::string configFilePath(const EnvLookup& env) {
  return expandHome(envValue(env, "AWS_CONFIG_FILE").value_or("~/.aws/config"), env);
}

std::string credentialsFilePath(const EnvLookup& env) {
  return expandHome(envValue(env, "AWS_SHARED_CREDENTIALS_FILE").value_or("~/.aws/credentials"),
                    env);
}

ProfileConfig loadProfileConfig(const EnvLookup& env) {
  ProfileConfig config;
  config.configPath = configFilePath(env);
  config.credentialsPath = credentialsFilePath(env);
  if (std::optional<std::string> text = readWholeFile(config.configPath, config.warnings)) {
    config.configFile = configFileProfiles(*text);
  }
  if (std::optional<std::string> text = readWholeFile(config.credentialsPath, config.warnings)) {
    config.credentialsFile = credentialsFileProfiles(*text);
  }
  return config;
}

std::string selectProfile(const std::optional<std::string>& explicitProfile, const EnvLookup& env) {
  if (explicitProfile && !explicitProfile->empty()) return *explicitProfile;
  return envValue(env, "AWS_PROFILE").value_or("default");
}

}  // namespace kinesyslog::aws
