#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kinesyslog::aws {

// Looks up an environment variable; nullopt when it is unset. Injected so tests never read or
// change the process environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// getenv(3).
EnvLookup processEnvironment();

// The value of `name`, or nullopt when it is unset or empty (botocore treats an empty variable
// as absent for every setting we read).
[[nodiscard]] std::optional<std::string> envValue(const EnvLookup& env, const std::string& name);

// One section's settings. Keys are lowercased, as Python's configparser (which botocore uses)
// folds option names; values are trimmed. A nested sub-section (`s3 =` followed by indented
// `key = value` lines) is kept apart in `nested` so it never masquerades as a top-level key.
struct Profile {
  std::map<std::string, std::string> values;
  std::map<std::string, std::map<std::string, std::string>> nested;

  std::optional<std::string> get(const std::string& key) const;
  bool has(const std::string& key) const { return values.count(key) != 0; }
};

// An INI file as configparser reads it: `[section]` headers, `key = value` or `key: value`,
// whole-line comments starting with `#` or `;` (inline comments are part of the value, as in
// botocore), indented lines continuing the previous value. Lines before the first section and
// lines without a delimiter are ignored rather than failing (configparser would raise; a
// relay would rather skip a stray line than refuse to start). A repeated section is merged and
// a repeated key keeps the last value.
using IniSections = std::map<std::string, Profile>;
IniSections parseIni(std::string_view text);

// Profiles of the shared config file: `[default]`, `[profile NAME]` (whitespace after `profile`
// required; NAME may be quoted). Other sections (`[sso-session x]`, `[services x]`) and the
// ambiguous `[profileNAME]` are not profiles. `[profile default]` and `[default]` are merged,
// the later one in the file winning key by key.
std::map<std::string, Profile> configFileProfiles(std::string_view text);

// Profiles of the shared credentials file: every `[NAME]` section is the profile NAME
// (`[profile x]` there is a profile literally named "profile x", as in botocore).
std::map<std::string, Profile> credentialsFileProfiles(std::string_view text);

// Both shared files, loaded once.
struct ProfileConfig {
  std::map<std::string, Profile> configFile;
  std::map<std::string, Profile> credentialsFile;
  std::string configPath;
  std::string credentialsPath;
  // Files that exist but could not be read (the caller logs them). botocore silently ignores
  // such a file; we still carry on without it but say so.
  std::vector<std::string> warnings;

  const Profile* configProfile(const std::string& name) const;
  const Profile* credentialsProfile(const std::string& name) const;
  bool hasProfile(const std::string& name) const;
  // botocore's "full config" view of a profile: the config file's section with the credentials
  // file's section laid over it key by key. Empty when the profile is in neither file.
  Profile merged(const std::string& name) const;
};

// AWS_CONFIG_FILE, else ~/.aws/config; AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials.
// A leading `~` or `~/` is expanded with $HOME (as botocore's expanduser). Empty when `~` is
// needed and HOME is unset.
std::string configFilePath(const EnvLookup& env);
std::string credentialsFilePath(const EnvLookup& env);

// Reads both files. A missing file is an empty file.
ProfileConfig loadProfileConfig(const EnvLookup& env);

// --profile when given, else AWS_PROFILE, else "default".
std::string selectProfile(const std::optional<std::string>& explicitProfile, const EnvLookup& env);

}  // namespace kinesyslog::aws
