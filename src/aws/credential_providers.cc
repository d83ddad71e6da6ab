#include "aws/credential_providers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <simdjson.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "aws/iso8601.h"

extern char** environ;

namespace kinesyslog::aws {

namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;

// ---- JSON ----------------------------------------------------------------------------------

// The string and integer members of a flat JSON object (credential documents are flat).
struct JsonFields {
  std::map<std::string, std::string, std::less<>> strings;
  std::map<std::string, double, std::less<>> numbers;

  std::optional<std::string> text(std::string_view key) const {
    const auto it = strings.find(key);
    if (it == strings.end()) return std::nullopt;
    return it->second;
  }
  bool has(std::string_view key) const {
    return strings.find(key) != strings.end() || numbers.find(key) != numbers.end();
  }
};

std::optional<JsonFields> parseJsonObject(std::string_view text) {
  // simdjson reads up to SIMDJSON_PADDING bytes past the end: copy into a padded buffer.
  const simdjson::padded_string padded(text);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(padded).get(root) != simdjson::SUCCESS) return std::nullopt;
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) return std::nullopt;
  JsonFields fields;
  for (const simdjson::dom::key_value_pair member : object) {
    const std::string key(member.key);
    std::string_view string;
    int64_t integer = 0;
    uint64_t unsignedInteger = 0;
    double real = 0;
    if (member.value.get_string().get(string) == simdjson::SUCCESS) {
      fields.strings[key] = std::string(string);
    } else if (member.value.get_int64().get(integer) == simdjson::SUCCESS) {
      fields.numbers[key] = static_cast<double>(integer);
    } else if (member.value.get_uint64().get(unsignedInteger) == simdjson::SUCCESS) {
      fields.numbers[key] = static_cast<double>(unsignedInteger);
    } else if (member.value.get_double().get(real) == simdjson::SUCCESS) {
      fields.numbers[key] = real;
    }
  }
  return fields;
}

// The credential document of ECS and IMDS (Token) or credential_process (SessionToken).
// Returns an explanation in `error` when a required member is missing.
std::optional<Credentials> credentialsFromJson(const JsonFields& fields, std::string_view tokenKey,
                                               bool tokenAndExpirationRequired,
                                               std::string& error) {
  Credentials credentials;
  const std::optional<std::string> accessKey = fields.text("AccessKeyId");
  const std::optional<std::string> secretKey = fields.text("SecretAccessKey");
  const std::optional<std::string> token = fields.text(tokenKey);
  const std::optional<std::string> expiration = fields.text("Expiration");
  if (!accessKey || accessKey->empty()) {
    error = "missing AccessKeyId";
    return std::nullopt;
  }
  if (!secretKey || secretKey->empty()) {
    error = "missing SecretAccessKey";
    return std::nullopt;
  }
  if (tokenAndExpirationRequired && !token) {
    error = "missing " + std::string(tokenKey);
    return std::nullopt;
  }
  if (tokenAndExpirationRequired && !expiration) {
    error = "missing Expiration";
    return std::nullopt;
  }
  credentials.accessKeyId = *accessKey;
  credentials.secretAccessKey = *secretKey;
  credentials.sessionToken = token.value_or("");
  if (expiration) {
    credentials.expiresMicros = parseIso8601Micros(*expiration);
    if (!credentials.expiresMicros) {
      error = "malformed Expiration '" + *expiration + "'";
      return std::nullopt;
    }
  }
  return credentials;
}

// ---- shared helpers ------------------------------------------------------------------------

std::optional<Credentials> staticKeys(const Profile* profile, const std::string& where,
                                      const std::string& source) {
  if (profile == nullptr) return std::nullopt;
  const std::optional<std::string> accessKey = profile->get("aws_access_key_id");
  if (!accessKey) return std::nullopt;
  const std::optional<std::string> secretKey = profile->get("aws_secret_access_key");
  if (!secretKey) {
    throw CredentialsError(where + " has aws_access_key_id but no aws_secret_access_key");
  }
  Credentials credentials;
  credentials.accessKeyId = *accessKey;
  credentials.secretAccessKey = *secretKey;
  // botocore looks for the legacy name first.
  credentials.sessionToken =
      profile->get("aws_security_token").value_or(profile->get("aws_session_token").value_or(""));
  credentials.source = source;
  return credentials;
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::optional<std::string> readTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return buffer.str();
}

std::string trimmed(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  const size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return std::string(text.substr(begin, text.find_last_not_of(kSpace) - begin + 1));
}

std::string sessionName(const Clock& clock) {
  return "botocore-session-" + std::to_string(clock.nowMicros() / kMicrosPerSecond);
}

// The first line of `text`, at most 200 bytes, for error messages.
std::string excerpt(std::string_view text) {
  std::string line = trimmed(text.substr(0, text.find('\n')));
  if (line.size() > 200) line = line.substr(0, 200) + "...";
  return line;
}

// ---- credential_process --------------------------------------------------------------------

struct ProcessResult {
  int exitStatus = -1;  // waitpid status
  bool timedOut = false;
  bool outputTooLarge = false;
  std::string out;
  std::string err;
};

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// Runs `command` with /bin/sh -c in its own process group (so a timeout can kill whatever it
// started), stdin from /dev/null, and collects stdout and stderr. posix_spawn rather than
// fork: the relay is multi-threaded.
ProcessResult runShell(const std::string& command, std::chrono::milliseconds timeout,
                       size_t maxOutput, const std::string& profile) {
  std::array<int, 2> outPipe{-1, -1};
  std::array<int, 2> errPipe{-1, -1};
  if (::pipe2(outPipe.data(), O_CLOEXEC) != 0) {
    throw CredentialsError("profile '" + profile +
                           "': credential_process: pipe: " + std::strerror(errno));
  }
  Fd outRead(outPipe[0]);
  Fd outWrite(outPipe[1]);
  if (::pipe2(errPipe.data(), O_CLOEXEC) != 0) {
    throw CredentialsError("profile '" + profile +
                           "': credential_process: pipe: " + std::strerror(errno));
  }
  Fd errRead(errPipe[0]);
  Fd errWrite(errPipe[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, outWrite.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, errWrite.get(), 2);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attributes, 0);
  // The relay blocks signals in its threads and handles SIGTERM itself; the child must start
  // with a clean mask and default handlers.
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigdefault(&attributes, &all);

  std::string shell = "/bin/sh";
  std::string dashC = "-c";
  std::string commandCopy = command;
  std::array<char*, 4> argv{shell.data(), dashC.data(), commandCopy.data(), nullptr};
  pid_t pid = -1;
  const int spawnError =
      ::posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawnError != 0) {
    throw CredentialsError("profile '" + profile +
                           "': credential_process cannot start: " + std::strerror(spawnError));
  }
  outWrite.reset();
  errWrite.reset();

  ProcessResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  constexpr size_t kMaxStderr = 4096;
  std::array<char, 4096> buffer{};
  while (outRead.get() >= 0 || errRead.get() >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timedOut = true;
      break;
    }
    std::array<pollfd, 2> fds{pollfd{outRead.get(), POLLIN, 0}, pollfd{errRead.get(), POLLIN, 0}};
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) break;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      Fd& fd = i == 0 ? outRead : errRead;
      const ssize_t got = ::read(fd.get(), buffer.data(), buffer.size());
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        fd.reset();
        continue;
      }
      std::string& sink = i == 0 ? result.out : result.err;
      const size_t cap = i == 0 ? maxOutput : kMaxStderr;
      const size_t keep = std::min(static_cast<size_t>(got), cap - std::min(cap, sink.size()));
      sink.append(buffer.data(), keep);
      if (i == 0 && keep < static_cast<size_t>(got)) result.outputTooLarge = true;
    }
    if (result.outputTooLarge) break;
  }
  if (result.timedOut || result.outputTooLarge) ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exitStatus = status;
  return result;
}

// ---- container endpoint --------------------------------------------------------------------

struct UrlHost {
  std::string scheme;
  std::string host;
};

std::optional<UrlHost> urlHost(std::string_view url) {
  const size_t schemeEnd = url.find("://");
  if (schemeEnd == std::string_view::npos || schemeEnd == 0) return std::nullopt;
  UrlHost out;
  out.scheme = lowercase(url.substr(0, schemeEnd));
  std::string_view authority = url.substr(schemeEnd + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  const size_t at = authority.rfind('@');
  if (at != std::string_view::npos) authority.remove_prefix(at + 1);
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = lowercase(authority.substr(1, close - 1));
  } else {
    out.host = lowercase(authority.substr(0, authority.find(':')));
  }
  if (out.host.empty()) return std::nullopt;
  return out;
}

bool isLoopback(const std::string& host) {
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

// botocore's ContainerMetadataFetcher._validate_allowed_url: plain HTTP only to the container
// agents' link-local addresses or to this host.
bool containerUrlAllowed(const UrlHost& url) {
  if (url.scheme == "https") return true;
  if (url.scheme != "http") return false;
  if (isLoopback(url.host)) return true;
  return url.host == "169.254.170.2" || url.host == "169.254.170.23" ||
         url.host == "fd00:ec2::23" || url.host == "localhost";
}

}  // namespace

// ---- Answers, parsed -----------------------------------------------------------------------

ParsedCredentials parseContainerCredentials(std::string_view json) {
  ParsedCredentials parsed;
  const std::optional<JsonFields> fields = parseJsonObject(json);
  if (!fields) return parsed;
  parsed.jsonObject = true;
  parsed.credentials =
      credentialsFromJson(*fields, "Token", /*tokenAndExpirationRequired=*/true, parsed.error);
  return parsed;
}

ParsedCredentials parseProcessCredentials(std::string_view json) {
  ParsedCredentials parsed;
  const std::optional<JsonFields> fields = parseJsonObject(json);
  if (!fields) return parsed;
  parsed.jsonObject = true;
  const auto version = fields->numbers.find("Version");
  if (version == fields->numbers.end() || version->second != 1.0) {
    parsed.error = "unsupported or missing Version (supported: 1)";
    return parsed;
  }
  parsed.credentials = credentialsFromJson(*fields, "SessionToken",
                                           /*tokenAndExpirationRequired=*/false, parsed.error);
  return parsed;
}

std::optional<std::string> imdsRoleName(std::string_view listing) {
  // The listing holds one role per line; an instance profile has exactly one.
  std::string role = trimmed(listing.substr(0, listing.find('\n')));
  if (role.empty() || role.find('/') != std::string::npos) return std::nullopt;
  return role;
}

// ---- EnvironmentProvider -------------------------------------------------------------------

EnvironmentProvider::EnvironmentProvider(EnvLookup env) : env_(std::move(env)) {}

std::optional<Credentials> EnvironmentProvider::load() {
  const std::optional<std::string> accessKey = envValue(env_, "AWS_ACCESS_KEY_ID");
  if (!accessKey) return std::nullopt;
  const std::optional<std::string> secretKey = envValue(env_, "AWS_SECRET_ACCESS_KEY");
  if (!secretKey) {
    throw CredentialsError("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
  }
  Credentials credentials;
  credentials.accessKeyId = *accessKey;
  credentials.secretAccessKey = *secretKey;
  credentials.sessionToken = envValue(env_, "AWS_SECURITY_TOKEN")
                                 .value_or(envValue(env_, "AWS_SESSION_TOKEN").value_or(""));
  if (const std::optional<std::string> expiration = envValue(env_, "AWS_CREDENTIAL_EXPIRATION")) {
    credentials.expiresMicros = parseIso8601Micros(*expiration);
    if (!credentials.expiresMicros) {
      throw CredentialsError("AWS_CREDENTIAL_EXPIRATION is not an ISO 8601 time: '" +
                             excerpt(*expiration) + "'");
    }
  }
  credentials.source = name();
  return credentials;
}

// ---- SharedCredentialsFileProvider / ConfigFileProvider --------------------------------------

SharedCredentialsFileProvider::SharedCredentialsFileProvider(
    std::shared_ptr<const ProfileConfig> config, std::string profile)
    : config_(std::move(config)), profile_(std::move(profile)) {}

std::optional<Credentials> SharedCredentialsFileProvider::load() {
  return staticKeys(config_->credentialsProfile(profile_),
                    "profile '" + profile_ + "' in " + config_->credentialsPath, name());
}

ConfigFileProvider::ConfigFileProvider(std::shared_ptr<const ProfileConfig> config,
                                       std::string profile)
    : config_(std::move(config)), profile_(std::move(profile)) {}

std::optional<Credentials> ConfigFileProvider::load() {
  return staticKeys(config_->configProfile(profile_),
                    "profile '" + profile_ + "' in " + config_->configPath, name());
}

// ---- ProcessProvider -----------------------------------------------------------------------

ProcessProvider::ProcessProvider(std::shared_ptr<const ProfileConfig> config, std::string profile,
                                 std::chrono::milliseconds timeout)
    : config_(std::move(config)), profile_(std::move(profile)), timeout_(timeout) {}

std::optional<Credentials> ProcessProvider::load() {
  const std::optional<std::string> command = config_->merged(profile_).get("credential_process");
  if (!command) return std::nullopt;
  const std::string what = "profile '" + profile_ + "': credential_process";
  const ProcessResult result = runShell(*command, timeout_, kMaxOutputBytes, profile_);
  if (result.timedOut) {
    throw CredentialsError(what + " did not finish within " +
                           std::to_string(timeout_.count() / 1000) + " s");
  }
  if (result.outputTooLarge) {
    throw CredentialsError(what + " wrote more than " + std::to_string(kMaxOutputBytes) + " bytes");
  }
  if (!WIFEXITED(result.exitStatus) || WEXITSTATUS(result.exitStatus) != 0) {
    const std::string how =
        WIFEXITED(result.exitStatus)
            ? "exited with status " + std::to_string(WEXITSTATUS(result.exitStatus))
            : "was killed by signal " + std::to_string(WTERMSIG(result.exitStatus));
    const std::string stderrLine = excerpt(result.err);
    throw CredentialsError(what + " " + how + (stderrLine.empty() ? "" : ": " + stderrLine));
  }
  ParsedCredentials parsed = parseProcessCredentials(result.out);
  if (!parsed.jsonObject) throw CredentialsError(what + " did not print a JSON object");
  if (!parsed.credentials) throw CredentialsError(what + ": " + parsed.error);
  parsed.credentials->source = name();
  return parsed.credentials;
}

// ---- WebIdentityProvider -------------------------------------------------------------------

WebIdentityProvider::WebIdentityProvider(const ProviderContext& context, std::string profile,
                                         bool useEnvironment)
    : context_(context), profile_(std::move(profile)), useEnvironment_(useEnvironment) {}

std::optional<std::string> WebIdentityProvider::setting(const Profile& profile,
                                                        const std::string& key,
                                                        const std::string& envName) const {
  if (useEnvironment_) {
    if (std::optional<std::string> value = envValue(context_.env, envName)) return value;
  }
  return profile.get(key);
}

std::optional<Credentials> WebIdentityProvider::load() {
  const Profile profile = context_.config->merged(profile_);
  const std::optional<std::string> tokenFile =
      setting(profile, "web_identity_token_file", "AWS_WEB_IDENTITY_TOKEN_FILE");
  if (!tokenFile) return std::nullopt;
  const std::optional<std::string> roleArn = setting(profile, "role_arn", "AWS_ROLE_ARN");
  if (!roleArn) {
    throw CredentialsError("web identity token file " + *tokenFile +
                           " is configured but no role ARN (AWS_ROLE_ARN or role_arn in profile '" +
                           profile_ + "')");
  }
  const std::optional<std::string> token = readTextFile(*tokenFile);
  if (!token) {
    throw CredentialsError("cannot read web identity token file " + *tokenFile + ": " +
                           std::strerror(errno));
  }
  // A JWT holds no whitespace; a trailing newline left by an editor would only break the call.
  const std::string cleanToken = trimmed(*token);
  if (cleanToken.empty()) {
    throw CredentialsError("web identity token file " + *tokenFile + " is empty");
  }
  const std::string session = setting(profile, "role_session_name", "AWS_ROLE_SESSION_NAME")
                                  .value_or(sessionName(context_.clock));
  Credentials credentials = context_.sts.assumeRoleWithWebIdentity(*roleArn, session, cleanToken);
  credentials.source = name();
  return credentials;
}

// ---- AssumeRoleProvider --------------------------------------------------------------------

AssumeRoleProvider::AssumeRoleProvider(const ProviderContext& context, std::string profile)
    : context_(context), profile_(std::move(profile)) {}

namespace {

bool hasStaticKeys(const Profile& profile) {
  return profile.has("aws_access_key_id") || profile.has("aws_secret_access_key");
}

// botocore's _has_assume_role_config_vars: web identity takes such a profile instead.
bool isAssumeRoleProfile(const Profile& profile) {
  return profile.has("role_arn") && !profile.has("web_identity_token_file");
}

}  // namespace

std::optional<Credentials> AssumeRoleProvider::load() {
  if (!isAssumeRoleProfile(context_.config->merged(profile_))) return std::nullopt;
  std::vector<std::string> visited;
  Credentials credentials = assumeFor(profile_, visited);
  credentials.source = name();
  return credentials;
}

Credentials AssumeRoleProvider::assumeFor(const std::string& profile,
                                          std::vector<std::string>& visited) {
  visited.push_back(profile);
  const Profile settings = context_.config->merged(profile);
  const std::string where = "profile '" + profile + "'";
  const std::optional<std::string> roleArn = settings.get("role_arn");
  if (!roleArn) throw CredentialsError(where + ": empty role_arn");
  if (settings.has("mfa_serial")) {
    throw CredentialsError(where + " sets mfa_serial: a service cannot prompt for an MFA code");
  }
  int durationSeconds = 3600;
  if (const std::optional<std::string> duration = settings.get("duration_seconds")) {
    const char* end = duration->data() + duration->size();
    const auto [ptr, ec] = std::from_chars(duration->data(), end, durationSeconds);
    if (ec != std::errc() || ptr != end || durationSeconds <= 0) {
      throw CredentialsError(where + ": duration_seconds is not a positive number: '" + *duration +
                             "'");
    }
  }
  const Credentials source = sourceCredentials(profile, settings, visited);
  const std::string session =
      settings.get("role_session_name").value_or(sessionName(context_.clock));
  return context_.sts.assumeRole(source, *roleArn, session, settings.get("external_id"),
                                 durationSeconds);
}

Credentials AssumeRoleProvider::sourceCredentials(const std::string& profile,
                                                  const Profile& settings,
                                                  std::vector<std::string>& visited) {
  const std::string where = "profile '" + profile + "'";
  const std::optional<std::string> sourceProfile = settings.get("source_profile");
  const std::optional<std::string> credentialSource = settings.get("credential_source");
  if (sourceProfile && credentialSource) {
    throw CredentialsError(where + " sets both source_profile and credential_source");
  }
  if (!sourceProfile && !credentialSource) {
    throw CredentialsError(where + " sets role_arn without source_profile or credential_source");
  }

  if (credentialSource) {
    std::unique_ptr<CredentialsProvider> provider;
    if (*credentialSource == "Environment") {
      provider = std::make_unique<EnvironmentProvider>(context_.env);
    } else if (*credentialSource == "Ec2InstanceMetadata") {
      provider = std::make_unique<InstanceMetadataProvider>(
          context_.http, imdsSettings(context_.env, context_.config->merged(profile_)));
    } else if (*credentialSource == "EcsContainer") {
      provider = std::make_unique<ContainerProvider>(context_);
    } else {
      throw CredentialsError(where + ": unsupported credential_source '" + *credentialSource +
                             "' (Environment, Ec2InstanceMetadata or EcsContainer)");
    }
    std::optional<Credentials> credentials = provider->load();
    if (!credentials) {
      throw CredentialsError(where + ": credential_source " + *credentialSource +
                             " provided no credentials");
    }
    return *credentials;
  }

  const std::string& source = *sourceProfile;
  if (!context_.config->hasProfile(source)) {
    throw CredentialsError(where + ": source_profile '" + source + "' does not exist");
  }
  const Profile sourceSettings = context_.config->merged(source);
  if (std::find(visited.begin(), visited.end(), source) != visited.end()) {
    // A profile may name itself to take its own static keys; any other revisit is a loop.
    if (source != profile || !hasStaticKeys(sourceSettings)) {
      std::string path;
      for (const std::string& name : visited) path += name + " -> ";
      throw CredentialsError("source_profile loop: " + path + source);
    }
  }
  if (hasStaticKeys(sourceSettings) || !isAssumeRoleProfile(sourceSettings)) {
    // botocore's profile provider chain for a source profile, environment variables excluded.
    std::vector<std::unique_ptr<CredentialsProvider>> chain;
    chain.push_back(std::make_unique<WebIdentityProvider>(context_, source, false));
    chain.push_back(std::make_unique<SharedCredentialsFileProvider>(context_.config, source));
    chain.push_back(std::make_unique<ProcessProvider>(context_.config, source));
    chain.push_back(std::make_unique<ConfigFileProvider>(context_.config, source));
    for (const auto& provider : chain) {
      if (std::optional<Credentials> credentials = provider->load()) return *credentials;
    }
    throw CredentialsError(where + ": source_profile '" + source + "' has no credentials");
  }
  return assumeFor(source, visited);
}

// ---- ContainerProvider ---------------------------------------------------------------------

ContainerProvider::ContainerProvider(const ProviderContext& context) : context_(context) {}

std::optional<Credentials> ContainerProvider::load() {
  std::string url;
  if (const std::optional<std::string> relative =
          envValue(context_.env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
    url = std::string(kRelativeHost) + *relative;
  } else if (const std::optional<std::string> full =
                 envValue(context_.env, "AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
    const std::optional<UrlHost> host = urlHost(*full);
    if (!host || !containerUrlAllowed(*host)) {
      throw CredentialsError(
          "AWS_CONTAINER_CREDENTIALS_FULL_URI " + *full +
          " is not allowed: plain http only to a loopback address, localhost, 169.254.170.2, "
          "169.254.170.23 or fd00:ec2::23");
    }
    url = *full;
  } else {
    return std::nullopt;
  }

  HttpRequest request;
  request.method = "GET";
  request.url = url;
  request.timeout = kTimeout;
  request.headers.emplace_back("Accept", "application/json");
  std::optional<std::string> authorization;
  if (const std::optional<std::string> tokenFile =
          envValue(context_.env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
    authorization = readTextFile(*tokenFile);
    if (!authorization) {
      throw CredentialsError("cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE " + *tokenFile +
                             ": " + std::strerror(errno));
    }
  } else {
    authorization = envValue(context_.env, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
  }
  if (authorization) {
    // Header injection guard, as botocore's _validate_auth_token.
    if (authorization->find_first_of("\r\n") != std::string::npos) {
      throw CredentialsError("the container authorization token contains a line break");
    }
    request.headers.emplace_back("Authorization", *authorization);
  }

  std::string lastError;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    if (attempt > 0) {
      if (context_.sleep) {
        context_.sleep(kPause);
      } else {
        std::this_thread::sleep_for(kPause);
      }
    }
    const HttpResponse response = context_.http.send(request);
    if (response.transportFailed()) {
      lastError = response.error.empty() ? "no answer" : response.error;
      continue;
    }
    if (response.status != 200) {
      lastError = "HTTP " + std::to_string(response.status) + " " + excerpt(response.body);
      continue;
    }
    ParsedCredentials parsed = parseContainerCredentials(response.body);
    if (!parsed.jsonObject) {
      lastError = "the answer is not a JSON object";
      continue;
    }
    if (!parsed.credentials) {
      throw CredentialsError("container credentials from " + url + ": " + parsed.error);
    }
    parsed.credentials->source = name();
    return parsed.credentials;
  }
  throw CredentialsError("container credentials from " + url + " failed after " +
                         std::to_string(kAttempts) + " attempts: " + lastError);
}

// ---- IMDS ----------------------------------------------------------------------------------

ImdsSettings imdsSettings(const EnvLookup& env, const Profile& profile) {
  ImdsSettings settings;
  auto value = [&](const std::string& envName,
                   const std::string& key) -> std::optional<std::string> {
    if (std::optional<std::string> fromEnv = envValue(env, envName)) return fromEnv;
    return profile.get(key);
  };
  settings.disabled = lowercase(envValue(env, "AWS_EC2_METADATA_DISABLED").value_or("")) == "true";
  settings.v1Disabled =
      lowercase(value("AWS_EC2_METADATA_V1_DISABLED", "ec2_metadata_v1_disabled").value_or("")) ==
      "true";
  if (const std::optional<std::string> endpoint =
          value("AWS_EC2_METADATA_SERVICE_ENDPOINT", "ec2_metadata_service_endpoint")) {
    settings.endpoint = *endpoint;
  } else if (lowercase(value("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
                             "ec2_metadata_service_endpoint_mode")
                           .value_or("")) == "ipv6") {
    settings.endpoint = "http://[fd00:ec2::254]";
  }
  if (const std::optional<std::string> timeout =
          value("AWS_METADATA_SERVICE_TIMEOUT", "metadata_service_timeout")) {
    double seconds = 0;
    const auto [ptr, ec] =
        std::from_chars(timeout->data(), timeout->data() + timeout->size(), seconds);
    if (ec == std::errc() && ptr == timeout->data() + timeout->size() && seconds > 0 &&
        seconds <= 3600) {
      settings.timeout = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
    }
  }
  if (const std::optional<std::string> attempts =
          value("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "metadata_service_num_attempts")) {
    int count = 0;
    const auto [ptr, ec] =
        std::from_chars(attempts->data(), attempts->data() + attempts->size(), count);
    if (ec == std::errc() && ptr == attempts->data() + attempts->size() && count >= 1 &&
        count <= 10) {
      settings.attempts = count;
    }
  }
  return settings;
}

ImdsClient::ImdsClient(HttpClient& http, ImdsSettings settings)
    : http_(http), settings_(std::move(settings)) {}

std::string ImdsClient::url(std::string_view path) const {
  std::string out = settings_.endpoint;
  if (out.empty() || out.back() != '/') out += '/';
  out += path;
  return out;
}

HttpResponse ImdsClient::send(HttpRequest request) {
  request.timeout = settings_.timeout;
  return http_.send(request);
}

std::optional<std::string> ImdsClient::get(std::string_view path) {
  if (settings_.disabled || !usable_) return std::nullopt;
  if (!tokenTried_) {
    tokenTried_ = true;
    HttpRequest put;
    put.method = "PUT";
    put.url = url("latest/api/token");
    put.headers.emplace_back("X-aws-ec2-metadata-token-ttl-seconds", std::string(kTokenTtlSeconds));
    for (int attempt = 0; attempt < settings_.attempts; ++attempt) {
      const HttpResponse response = send(put);
      if (response.status == 200) {
        token_ = response.body;
        break;
      }
      if (response.status == 403 || response.status == 404 || response.status == 405) break;
      if (response.status == 400) {
        usable_ = false;
        return std::nullopt;
      }
    }
    if (!token_ && settings_.v1Disabled) {
      usable_ = false;
      return std::nullopt;
    }
  }
  HttpRequest request;
  request.method = "GET";
  request.url = url(path);
  if (token_) request.headers.emplace_back("X-aws-ec2-metadata-token", *token_);
  for (int attempt = 0; attempt < settings_.attempts; ++attempt) {
    HttpResponse response = send(request);
    if (response.status == 200 && !response.body.empty()) return std::move(response.body);
  }
  return std::nullopt;
}

InstanceMetadataProvider::InstanceMetadataProvider(HttpClient& http, ImdsSettings settings)
    : http_(http), settings_(std::move(settings)) {}

std::optional<Credentials> InstanceMetadataProvider::load() {
  if (settings_.disabled) return std::nullopt;
  ImdsClient imds(http_, settings_);
  const std::optional<std::string> roleList = imds.get(kRolePath);
  if (!roleList) return std::nullopt;
  const std::optional<std::string> role = imdsRoleName(*roleList);
  if (!role) return std::nullopt;
  const std::optional<std::string> document = imds.get(std::string(kRolePath) + *role);
  if (!document) return std::nullopt;
  ParsedCredentials parsed = parseContainerCredentials(*document);
  // No credentials, e.g. {"Code":"AssumeRoleUnauthorizedAccess",...}: not configured.
  if (!parsed.credentials) return std::nullopt;
  parsed.credentials->source = name();
  return parsed.credentials;
}

}  // namespace kinesyslog::aws
