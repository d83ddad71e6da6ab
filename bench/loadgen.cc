// kinesyslog_loadgen: the bench harness's load generator (docs/design.md "Performance targets").
// Sends syslog (RFC 5424 messages over UDP, or over TCP/TLS framed per RFC 6587) or GELF (UDP
// plain, zlib, gzip, chunked; TCP/TLS NUL-framed), each message carrying `run=ID seq=NNNNNNNNNN` so
// that the harness can check that every message arrived exactly once.
//
// Sequence numbers: thread t of T sends start+t, start+t+T, start+t+2T, ... (interleaved), so
// all threads finish together and seqs [start, start+count) are each sent exactly once.
// Connections (TCP/TLS connections, or UDP sockets with distinct source ports) are dealt to
// threads round-robin (connection i belongs to thread i % T); a thread rotates over its
// connections batch by batch.
//
// Pacing (--rate): each thread owns rate/T and sends message k at start + k·T/rate on the
// monotonic clock, in batches of at most ~250 µs worth. A thread that stalls catches up at
// most 1 ms worth and slips its schedule by the rest instead of bursting; the slip is reported.
//
// Padding: each message's text after the sequence number is copied from a fixed pool at offsets
// drawn per thread; --seed fixes the draws, so two runs with one seed send the same bytes.
//
// Output: one JSON line on stdout (over UDP, `datagrams` counts the datagrams sent: a chunked
// GELF message takes several). Exit 0 on success, 1 when a connection fails, 2 for a usage
// error.
#include <arpa/inet.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace kinesyslog::bench {
namespace {

enum class Transport { Udp, Tcp, Tls, GelfUdp, GelfTcp, GelfTls };
enum class Framing { OctetCounting, LineFeed };
enum class GelfEncoding { Plain, Zlib, Gzip, Chunked, ChunkedZlib, ChunkedGzip };

constexpr size_t kMaxUdpPayload = 65507;       // 65535 - 8 (UDP) - 20 (IPv4) header bytes
constexpr size_t kMaxMessageSize = 16u << 20;  // far above the relay's 256 KiB cap
constexpr uint64_t kMaxSeq = 9'999'999'999;    // seq is printed as exactly 10 digits
constexpr size_t kGelfChunkHeader = 12;        // magic(2) + id(8) + seq(1) + count(1)
constexpr size_t kMaxGelfChunks = 128;
constexpr size_t kStreamBatchBytes = 256u << 10;  // one write() per this much framed data
constexpr size_t kMaxDatagramsPerCall = 1024;     // UIO_MAXIOV, the sendmmsg vector limit
constexpr size_t kUnpacedDatagramBatch = 256;
constexpr double kPacedBatchSeconds = 250e-6;   // well under the ~1 ms burst allowance
constexpr double kMaxLagSeconds = 1e-3;         // behind by more: slip, never burst
constexpr size_t kPaddingPoolBytes = 4u << 20;  // power of two; far above deflate's 32 KiB window

struct Options {
  std::string target = "127.0.0.1";
  uint16_t port = 0;
  Transport transport = Transport::Udp;
  Framing framing = Framing::OctetCounting;
  GelfEncoding gelfEncoding = GelfEncoding::Plain;
  int gelfLevel = 1;
  size_t size = 200;
  uint64_t count = 100000;
  double rate = 0;
  unsigned connections = 0;  // 0: one per thread
  unsigned threads = 1;
  unsigned batch = 0;  // messages per send call; 0: chosen from the transport and the rate
  std::string runId;
  uint64_t startSeq = 0;
  uint64_t seed = 0;  // 0: from the clock
  size_t chunkSize = 1420;
  std::string caFile;
  std::string certFile;
  std::string keyFile;
  std::string serverName;
  double closeTimeout = 10;
};

bool isGelf(Transport t) {
  return t == Transport::GelfUdp || t == Transport::GelfTcp || t == Transport::GelfTls;
}
bool isDatagram(Transport t) {
  return t == Transport::Udp || t == Transport::GelfUdp;
}
bool isTls(Transport t) {
  return t == Transport::Tls || t == Transport::GelfTls;
}
bool isChunked(GelfEncoding e) {
  return e == GelfEncoding::Chunked || e == GelfEncoding::ChunkedZlib ||
         e == GelfEncoding::ChunkedGzip;
}
bool isCompressed(GelfEncoding e) {
  return e != GelfEncoding::Plain && e != GelfEncoding::Chunked;
}
bool isZlib(GelfEncoding e) {
  return e == GelfEncoding::Zlib || e == GelfEncoding::ChunkedZlib;
}

const char* transportName(Transport t) {
  switch (t) {
    case Transport::Udp:
      return "udp";
    case Transport::Tcp:
      return "tcp";
    case Transport::Tls:
      return "tls";
    case Transport::GelfUdp:
      return "gelf-udp";
    case Transport::GelfTcp:
      return "gelf-tcp";
    case Transport::GelfTls:
      return "gelf-tls";
  }
  return "?";
}

const char* encodingName(GelfEncoding e) {
  switch (e) {
    case GelfEncoding::Plain:
      return "plain";
    case GelfEncoding::Zlib:
      return "zlib";
    case GelfEncoding::Gzip:
      return "gzip";
    case GelfEncoding::Chunked:
      return "chunked";
    case GelfEncoding::ChunkedZlib:
      return "chunked-zlib";
    case GelfEncoding::ChunkedGzip:
      return "chunked-gzip";
  }
  return "?";
}

uint64_t monotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

// splitmix64: fast, good enough to pick words and offsets, seeded per thread.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

// Text that compresses like real logs: words from a small vocabulary mixed with numbers of
// varying length. Only printable ASCII without '"' and '\' (safe inside GELF's JSON string and
// in any syslog framing). Messages copy `length` bytes from a random offset, so within
// deflate's 32 KiB window two messages almost never share their padding.
class PaddingPool {
 public:
  explicit PaddingPool(size_t length) : length_(length) {
    static constexpr const char* kWords[] = {
        "user",        "admin",       "session",    "opened",      "closed",   "for",
        "from",        "port",        "ssh2",       "GET",         "POST",     "/api/v1/items",
        "/index.html", "HTTP/1.1",    "200",        "404",         "500",      "status=ok",
        "status=fail", "latency_ms=", "bytes=",     "request_id=", "upstream", "connection",
        "accepted",    "refused",     "timeout",    "retry",       "worker",   "cache",
        "hit",         "miss",        "db",         "query",       "took",     "ms",
        "pid=",        "uid=0",       "kernel:",    "eth0",        "link",     "is",
        "up",          "down",        "disk",       "sda1",        "mounted",  "cron",
        "job",         "started",     "finished",   "backup",      "nginx",    "sshd",
        "systemd",     "Started",     "Stopped",    "service",     "unit",     "warning",
        "notice",      "info",        "level=info", "msg="};
    constexpr size_t kWordCount = sizeof(kWords) / sizeof(kWords[0]);
    Rng rng(0x6b696e6573797367u);
    text_.reserve(kPaddingPoolBytes + length_ + 32);
    while (text_.size() < kPaddingPoolBytes + length_) {
      const uint64_t r = rng.next();
      if ((r & 3) == 0) {
        // A number of 1 to 8 digits, like ids, sizes and durations in real lines.
        uint64_t value = r >> 8;
        const size_t digits = 1 + ((r >> 2) & 7);
        for (size_t i = 0; i < digits; ++i, value /= 10)
          text_ += static_cast<char>('0' + value % 10);
      } else {
        text_ += kWords[(r >> 2) % kWordCount];
      }
      text_ += ' ';
    }
  }

  size_t length() const { return length_; }
  const char* pick(Rng& rng) const { return text_.data() + (rng.next() & (kPaddingPoolBytes - 1)); }

 private:
  size_t length_;
  std::string text_;
};

// Writes "0000000042" for 42: exactly 10 digits, two at a time.
void writeSeq(uint64_t value, char* out) {
  static constexpr char kPairs[] =
      "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
      "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
      "8081828384858687888990919293949596979899";
  for (int i = 8; i >= 0; i -= 2) {
    const uint64_t pair = value % 100;
    value /= 100;
    out[i] = kPairs[pair * 2];
    out[i + 1] = kPairs[pair * 2 + 1];
  }
}

// One message as text: prefix, 10 seq digits, a space, padding, suffix. The receive-side
// timestamp lives in the prefix (syslog) or the suffix (GELF) at a fixed width, so it is
// patched once per batch and never formatted per message.
class MessageFormat {
 public:
  // Returns nullopt (and sets *error) when `size` cannot hold the fixed parts.
  static std::optional<MessageFormat> make(bool gelf, const std::string& runId, size_t size,
                                           std::string* error) {
    MessageFormat f;
    f.gelf_ = gelf;
    if (gelf) {
      // GELF 1.1: version, host, short_message are required; timestamp is seconds with a
      // fraction; additional fields start with '_'.
      f.prefix_ = R"({"version":"1.1","host":"loadgen","short_message":"run=)" + runId + " seq=";
      f.suffix_ = R"(","timestamp":)";
      f.timeOffset_ = f.suffix_.size();
      f.suffix_ += "0000000000.000000";
      f.suffix_ += R"(,"_bench":")" + runId + "\"}";
    } else {
      // RFC 5424 §6: PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP
      // STRUCTURED-DATA SP MSG. Timestamp per RFC 5424 §6.2.3 with 6 fraction digits and Z.
      f.prefix_ = "<13>1 ";
      f.timeOffset_ = f.prefix_.size();
      f.prefix_ += "0000-00-00T00:00:00.000000Z loadgen bench - - - run=" + runId + " seq=";
    }
    const size_t fixed = f.prefix_.size() + 10 + 1 + f.suffix_.size();
    if (size < fixed) {
      *error = "--size must be at least " + std::to_string(fixed) + " for this run id";
      return std::nullopt;
    }
    f.paddingLength_ = size - fixed;
    f.size_ = size;
    return f;
  }

  size_t size() const { return size_; }
  size_t paddingLength() const { return paddingLength_; }

  void stampTime() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    const long micros = ts.tv_nsec / 1000;
    char text[128];
    if (gelf_) {
      std::snprintf(text, sizeof(text), "%010lld.%06ld", static_cast<long long>(ts.tv_sec), micros);
      std::memcpy(suffix_.data() + timeOffset_, text, 17);
    } else {
      tm utc{};
      gmtime_r(&ts.tv_sec, &utc);
      std::snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", utc.tm_year + 1900,
                    utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, micros);
      std::memcpy(prefix_.data() + timeOffset_, text, 27);
    }
  }

  // Writes exactly size() bytes to `out`; `padding` points at paddingLength() bytes.
  void write(uint64_t seq, const char* padding, char* out) const {
    std::memcpy(out, prefix_.data(), prefix_.size());
    out += prefix_.size();
    writeSeq(seq, out);
    out[10] = ' ';
    out += 11;
    std::memcpy(out, padding, paddingLength_);
    out += paddingLength_;
    std::memcpy(out, suffix_.data(), suffix_.size());
  }

 private:
  MessageFormat() = default;

  bool gelf_ = false;
  std::string prefix_;
  std::string suffix_;
  size_t timeOffset_ = 0;
  size_t paddingLength_ = 0;
  size_t size_ = 0;
};

// --- connections -------------------------------------------------------------------------

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

std::string sslErrors() {
  std::string text;
  while (const unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text.empty() ? std::string("unknown TLS error") : text;
}

// TLS 1.2+ client context. Without --ca no certificate is verified (a bench talks to a relay
// with a throwaway certificate); with --ca the chain is verified, and the name too when
// --server-name is given.
SslCtxPtr makeSslContext(const Options& options, std::string* error) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    *error = sslErrors();
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  if (!options.caFile.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), options.caFile.c_str(), nullptr) != 1) {
      *error = "cannot load --ca " + options.caFile + ": " + sslErrors();
      return nullptr;
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  }
  if (!options.certFile.empty()) {
    const std::string& key = options.keyFile.empty() ? options.certFile : options.keyFile;
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), options.certFile.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1) {
      *error = "cannot load client certificate or key: " + sslErrors();
      return nullptr;
    }
  }
  return ctx;
}

int connectSocket(const Options& options, int type, std::string* error) {
  addrinfo hints{};
  hints.ai_socktype = type;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(options.port);
  if (const int rc = getaddrinfo(options.target.c_str(), port.c_str(), &hints, &found); rc != 0) {
    *error = "cannot resolve " + options.target + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  std::string lastError = "no address";
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      lastError = std::strerror(errno);
      continue;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    lastError = std::strerror(errno);
    close(fd);
    fd = -1;
  }
  freeaddrinfo(found);
  if (fd < 0) {
    *error = "cannot connect to " + options.target + ":" + port + ": " + lastError;
    return -1;
  }
  if (type == SOCK_STREAM) {
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  return fd;
}

// A TCP or TLS connection written with blocking calls. Owns the descriptor and the SSL.
class StreamConnection {
 public:
  StreamConnection(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  ~StreamConnection() {
    SSL_free(ssl_);
    if (fd_ >= 0) close(fd_);
  }
  StreamConnection(const StreamConnection&) = delete;
  StreamConnection& operator=(const StreamConnection&) = delete;

  bool broken() const { return broken_; }

  // Writes all of [data, data + size), resuming after short writes. False when the
  // connection failed (reported once on stderr); the connection is then unusable.
  bool writeAll(const char* data, size_t size) {
    if (broken_) return false;
    while (size > 0) {
      if (ssl_ != nullptr) {
        size_t written = 0;
        if (SSL_write_ex(ssl_, data, size, &written) != 1) {
          const int reason = SSL_get_error(ssl_, 0);
          if (reason == SSL_ERROR_WANT_WRITE || reason == SSL_ERROR_WANT_READ) continue;
          return fail("TLS write failed: " + sslErrors());
        }
        data += written;
        size -= written;
      } else {
        const ssize_t written = send(fd_, data, size, MSG_NOSIGNAL);
        if (written < 0) {
          if (errno == EINTR) continue;
          return fail(std::string("write failed: ") + std::strerror(errno));
        }
        data += written;
        size -= static_cast<size_t>(written);
      }
    }
    return true;
  }

  // Clean close: TLS close_notify (RFC 8446 §6.1), then FIN, then wait for the peer's FIN so
  // that the peer has read everything before we exit (and so nothing unread on our side turns
  // the close into a reset), then close.
  void finish(double timeoutSeconds) {
    if (fd_ < 0) return;
    if (ssl_ != nullptr && !broken_) SSL_shutdown(ssl_);
    shutdown(fd_, SHUT_WR);
    const uint64_t deadline =
        monotonicNs() + static_cast<uint64_t>(std::max(0.0, timeoutSeconds) * 1e9);
    char sink[4096];
    while (true) {
      const uint64_t now = monotonicNs();
      if (now >= deadline) break;
      pollfd p{fd_, POLLIN, 0};
      const int ready = poll(&p, 1, static_cast<int>((deadline - now) / 1'000'000 + 1));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) break;
      const ssize_t got = recv(fd_, sink, sizeof(sink), 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
    }
    close(fd_);
    fd_ = -1;
  }

 private:
  bool fail(const std::string& message) {
    std::fprintf(stderr, "kinesyslog_loadgen: %s\n", message.c_str());
    broken_ = true;
    return false;
  }

  int fd_;
  SSL* ssl_;
  bool broken_ = false;
};

std::unique_ptr<StreamConnection> openStream(const Options& options, SSL_CTX* ctx,
                                             std::string* error) {
  const int fd = connectSocket(options, SOCK_STREAM, error);
  if (fd < 0) return nullptr;
  if (ctx == nullptr) return std::make_unique<StreamConnection>(fd, nullptr);
  SSL* ssl = SSL_new(ctx);
  if (ssl == nullptr) {
    *error = sslErrors();
    close(fd);
    return nullptr;
  }
  auto connection = std::make_unique<StreamConnection>(fd, ssl);
  SSL_set_fd(ssl, fd);
  if (!options.serverName.empty()) {
    SSL_set_tlsext_host_name(ssl, options.serverName.c_str());
    if (!options.caFile.empty()) SSL_set1_host(ssl, options.serverName.c_str());
  }
  if (SSL_connect(ssl) != 1) {
    *error = "TLS handshake with " + options.target + ":" + std::to_string(options.port) +
             " failed: " + sslErrors();
    return nullptr;
  }
  return connection;
}

// --- pacing ------------------------------------------------------------------------------

// Message k of this thread is due at start + k / rate. A batch leaves when its last message
// is due. Sleeps use absolute deadlines on the monotonic clock, so errors do not accumulate.
class Pacer {
 public:
  explicit Pacer(double rate) : rate_(rate), startNs_(monotonicNs()) {}

  // Blocks until messages [sent, sent + want) may go.
  void waitFor(uint64_t sent, uint64_t want) {
    if (rate_ <= 0) return;
    const double dueNs =
        static_cast<double>(startNs_) + static_cast<double>(sent + want - 1) / rate_ * 1e9;
    const double nowNs = static_cast<double>(monotonicNs());
    if (nowNs < dueNs) {
      const auto due = static_cast<uint64_t>(dueNs);
      timespec ts{static_cast<time_t>(due / 1'000'000'000u),
                  static_cast<long>(due % 1'000'000'000u)};
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
      }
    } else if (nowNs - dueNs > kMaxLagSeconds * 1e9) {
      // Far behind (a stall): catch up at most 1 ms worth, back to back in normal batches,
      // and move the schedule by the rest rather than send a larger burst.
      const auto slip = static_cast<uint64_t>(nowNs - dueNs - kMaxLagSeconds * 1e9);
      startNs_ += slip;
      slipNs_ += slip;
    }
  }

  double slipSeconds() const { return static_cast<double>(slipNs_) / 1e9; }

 private:
  double rate_;
  uint64_t startNs_;
  uint64_t slipNs_ = 0;
};

// --- sender thread -----------------------------------------------------------------------

struct ThreadResult {
  uint64_t sent = 0;
  uint64_t datagrams = 0;  // UDP: datagrams handed to the kernel (a chunked message takes several)
  uint64_t bytes = 0;
  uint64_t errors = 0;
  uint64_t endNs = 0;     // when the last message was handed to the kernel
  uint64_t closedNs = 0;  // when every connection of the thread was closed
  double slipSeconds = 0;
  bool connectionFailed = false;
};

struct DeflateDeleter {
  void operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }
};

class Sender {
 public:
  Sender(const Options& options, const PaddingPool& padding, MessageFormat format, unsigned index,
         std::vector<std::unique_ptr<StreamConnection>> streams, std::vector<int> datagramFds)
      : options_(options),
        padding_(padding),
        format_(std::move(format)),
        index_(index),
        streams_(std::move(streams)),
        datagramFds_(std::move(datagramFds)),
        rng_(0x9e3779b97f4a7c15u * (index + 1) ^
             (options.seed != 0 ? options.seed : static_cast<uint64_t>(monotonicNs()))) {}

  ~Sender() {
    for (const int fd : datagramFds_) close(fd);
  }

  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;

  const ThreadResult& result() const { return result_; }

  void run() {
    // Precise wake-ups for pacing: the default 50 µs timer slack is a fifth of a batch.
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    const uint64_t threads = options_.threads;
    const uint64_t total = options_.count / threads + (index_ < options_.count % threads ? 1 : 0);
    const double rate = options_.rate / static_cast<double>(threads);
    setUp(rate);
    Pacer pacer(rate);
    uint64_t seq = options_.startSeq + index_;
    uint64_t done = 0;
    size_t next = 0;  // connection to use for the next batch
    const size_t connections = datagram_ ? datagramFds_.size() : streams_.size();
    while (done < total) {
      const uint64_t want = std::min<uint64_t>(batchMessages_, total - done);
      pacer.waitFor(done, want);
      format_.stampTime();
      bool ok = true;
      if (datagram_) {
        sendDatagrams(datagramFds_[next], seq, want, threads);
      } else {
        ok = sendStream(*streams_[next], seq, want, threads);
      }
      done += want;
      seq += want * threads;
      if (!ok) {
        result_.connectionFailed = true;
        ++result_.errors;
        if (std::all_of(streams_.begin(), streams_.end(),
                        [](const auto& s) { return s->broken(); })) {
          break;
        }
      }
      next = (next + 1) % connections;
      while (!datagram_ && streams_[next]->broken()) next = (next + 1) % connections;
    }
    result_.endNs = monotonicNs();
    result_.slipSeconds = pacer.slipSeconds();
    for (auto& stream : streams_) stream->finish(options_.closeTimeout);
    result_.closedNs = monotonicNs();
  }

 private:
  void setUp(double rate) {
    runSalt_ = 0xcbf29ce484222325u;  // FNV-1a of the run id: chunk ids differ across runs
    for (const char c : options_.runId) {
      runSalt_ = (runSalt_ ^ static_cast<unsigned char>(c)) * 0x100000001b3u;
    }
    datagram_ = isDatagram(options_.transport);
    const bool gelf = isGelf(options_.transport);
    const size_t size = format_.size();
    if (datagram_) {
      compressed_ = gelf && isCompressed(options_.gelfEncoding);
      chunked_ = gelf && isChunked(options_.gelfEncoding);
      if (compressed_) {
        deflate_.reset(libdeflate_alloc_compressor(options_.gelfLevel));
        compressedBound_ = isZlib(options_.gelfEncoding)
                               ? libdeflate_zlib_compress_bound(deflate_.get(), size)
                               : libdeflate_gzip_compress_bound(deflate_.get(), size);
        // The plain message, then (when chunked) its compressed form.
        scratch_.resize(size + compressedBound_);
      } else if (chunked_) {
        scratch_.resize(size);
      }
      const size_t payloadBound = compressed_ ? compressedBound_ : size;
      maxChunks_ = chunked_ ? (payloadBound + options_.chunkSize - 1) / options_.chunkSize : 1;
      maxChunks_ = std::min(maxChunks_, kMaxGelfChunks);
      slotBytes_ = chunked_ ? maxChunks_ * (kGelfChunkHeader + options_.chunkSize) : payloadBound;
      batchMessages_ = std::max<size_t>(1, kUnpacedDatagramBatch / maxChunks_);
      batchMessages_ =
          std::max<size_t>(1, std::min(batchMessages_, kMaxDatagramsPerCall / maxChunks_));
    } else {
      if (gelf) {
        hasTrailer_ = true;
        trailer_ = '\0';  // GELF over TCP: each frame ends with NUL
      } else if (options_.framing == Framing::LineFeed) {
        hasTrailer_ = true;
        trailer_ = '\n';  // RFC 6587 §3.4.2 non-transparent framing
      } else {
        header_ = std::to_string(size) + " ";  // RFC 6587 §3.4.1 octet counting
      }
      slotBytes_ = header_.size() + size + (hasTrailer_ ? 1 : 0);
      batchMessages_ = std::max<size_t>(1, kStreamBatchBytes / slotBytes_);
    }
    if (rate > 0) {
      const auto paced = static_cast<size_t>(std::ceil(rate * kPacedBatchSeconds));
      batchMessages_ = std::max<size_t>(1, std::min(batchMessages_, paced));
    }
    if (options_.batch > 0) {
      batchMessages_ = options_.batch;
      if (datagram_) {
        batchMessages_ = std::min<size_t>(batchMessages_, kMaxDatagramsPerCall / maxChunks_);
      }
    }
    buffer_.resize(batchMessages_ * slotBytes_);
    if (datagram_) {
      const size_t datagrams = batchMessages_ * maxChunks_;
      iov_.resize(datagrams);
      headers_.resize(datagrams);
      owners_.resize(datagrams);
    }
  }

  bool sendStream(StreamConnection& stream, uint64_t seq, uint64_t count, uint64_t stride) {
    char* out = buffer_.data();
    for (uint64_t i = 0; i < count; ++i, seq += stride) {
      if (!header_.empty()) {
        std::memcpy(out, header_.data(), header_.size());
        out += header_.size();
      }
      format_.write(seq, padding_.pick(rng_), out);
      out += format_.size();
      if (hasTrailer_) *out++ = trailer_;
    }
    const auto bytes = static_cast<size_t>(out - buffer_.data());
    if (!stream.writeAll(buffer_.data(), bytes)) return false;
    result_.sent += count;
    result_.bytes += bytes;
    return true;
  }

  // Lays out `count` messages as datagrams in buffer_, then hands them to sendmmsg.
  void sendDatagrams(int fd, uint64_t seq, uint64_t count, uint64_t stride) {
    size_t datagrams = 0;
    uint64_t skipped = 0;  // messages that could not be encoded (never expected)
    for (uint64_t i = 0; i < count; ++i, seq += stride) {
      char* slot = buffer_.data() + i * slotBytes_;
      const char* payload = slot;
      size_t payloadSize = format_.size();
      if (compressed_ || chunked_) {
        format_.write(seq, padding_.pick(rng_), scratch_.data());
        payload = scratch_.data();
        if (compressed_) {
          char* target = chunked_ ? scratch_.data() + format_.size() : slot;
          payloadSize = isZlib(options_.gelfEncoding)
                            ? libdeflate_zlib_compress(deflate_.get(), payload, format_.size(),
                                                       target, compressedBound_)
                            : libdeflate_gzip_compress(deflate_.get(), payload, format_.size(),
                                                       target, compressedBound_);
          payload = target;
        }
      } else {
        format_.write(seq, padding_.pick(rng_), slot);
      }
      if (chunked_) {
        const size_t chunks = (payloadSize + options_.chunkSize - 1) / options_.chunkSize;
        if (payloadSize == 0 || chunks > kMaxGelfChunks) {
          ++skipped;
          continue;
        }
        // GELF chunking: 0x1e 0x0f, 8-byte message id, sequence number, sequence count.
        const uint64_t id = Rng(seq ^ 0x474546u).next() ^ runSalt_;
        for (size_t c = 0; c < chunks; ++c) {
          char* out = slot + c * (kGelfChunkHeader + options_.chunkSize);
          const size_t offset = c * options_.chunkSize;
          const size_t piece = std::min(options_.chunkSize, payloadSize - offset);
          out[0] = 0x1e;
          out[1] = 0x0f;
          std::memcpy(out + 2, &id, 8);
          out[10] = static_cast<char>(c);
          out[11] = static_cast<char>(chunks);
          std::memcpy(out + kGelfChunkHeader, payload + offset, piece);
          addDatagram(datagrams++, out, kGelfChunkHeader + piece, i);
        }
      } else {
        if (payloadSize == 0) {
          ++skipped;
          continue;
        }
        addDatagram(datagrams++, slot, payloadSize, i);
      }
    }
    result_.errors += skipped;
    uint64_t failedMessages = 0;
    uint64_t lastFailed = UINT64_MAX;
    size_t done = 0;
    while (done < datagrams) {
      const unsigned batch =
          static_cast<unsigned>(std::min(datagrams - done, kMaxDatagramsPerCall));
      const int sent = sendmmsg(fd, headers_.data() + done, batch, 0);
      if (sent < 0) {
        if (errno == EINTR) continue;
        if (errno == ENOBUFS || errno == EAGAIN) {
          std::this_thread::yield();
          continue;
        }
        // E.g. ECONNREFUSED: an ICMP port unreachable for an earlier datagram is reported on
        // the connected socket (nobody listens: a connection failure for the exit code).
        // Count it and skip this datagram; its message is lost.
        if (errno == ECONNREFUSED) result_.connectionFailed = true;
        if (result_.errors == 0) {
          std::fprintf(stderr, "kinesyslog_loadgen: send failed: %s\n", std::strerror(errno));
        }
        ++result_.errors;
        if (owners_[done] != lastFailed) {
          lastFailed = owners_[done];
          ++failedMessages;
        }
        ++done;
        continue;
      }
      for (int k = 0; k < sent; ++k) result_.bytes += headers_[done + k].msg_len;
      result_.datagrams += static_cast<uint64_t>(sent);
      done += static_cast<size_t>(sent);
    }
    result_.sent += count - skipped - failedMessages;
  }

  void addDatagram(size_t n, char* data, size_t size, uint64_t message) {
    iov_[n] = iovec{data, size};
    headers_[n] = mmsghdr{};
    headers_[n].msg_hdr.msg_iov = &iov_[n];
    headers_[n].msg_hdr.msg_iovlen = 1;
    owners_[n] = message;
  }

  const Options& options_;
  const PaddingPool& padding_;
  MessageFormat format_;
  unsigned index_;
  std::vector<std::unique_ptr<StreamConnection>> streams_;
  std::vector<int> datagramFds_;
  Rng rng_;
  ThreadResult result_;

  bool datagram_ = false;
  bool compressed_ = false;
  bool chunked_ = false;
  std::string header_;
  bool hasTrailer_ = false;
  char trailer_ = 0;
  uint64_t runSalt_ = 0;
  size_t slotBytes_ = 0;
  size_t batchMessages_ = 1;
  size_t maxChunks_ = 1;
  size_t compressedBound_ = 0;
  std::vector<char> buffer_;
  std::vector<char> scratch_;
  std::vector<iovec> iov_;
  std::vector<mmsghdr> headers_;
  std::vector<uint64_t> owners_;
  std::unique_ptr<libdeflate_compressor, DeflateDeleter> deflate_;
};

// --- command line ------------------------------------------------------------------------

std::string randomRunId() {
  std::random_device device;
  char text[9];
  std::snprintf(text, sizeof(text), "%08x", static_cast<unsigned>(device()));
  return text;
}

bool validRunId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == ':';
  });
}

// Returns the exit code when the program should stop now (help, usage error), else nullopt.
std::optional<int> parseOptions(int argc, char** argv, Options& o) {
  CLI::App app{"kinesyslog benchmark load generator: syslog and GELF over UDP, TCP and TLS"};
  const std::map<std::string, Transport> transports{
      {"udp", Transport::Udp},          {"tcp", Transport::Tcp},
      {"tls", Transport::Tls},          {"gelf-udp", Transport::GelfUdp},
      {"gelf-tcp", Transport::GelfTcp}, {"gelf-tls", Transport::GelfTls}};
  const std::map<std::string, Framing> framings{{"octet", Framing::OctetCounting},
                                                {"lf", Framing::LineFeed}};
  const std::map<std::string, GelfEncoding> encodings{{"plain", GelfEncoding::Plain},
                                                      {"zlib", GelfEncoding::Zlib},
                                                      {"gzip", GelfEncoding::Gzip},
                                                      {"chunked", GelfEncoding::Chunked},
                                                      {"chunked-zlib", GelfEncoding::ChunkedZlib},
                                                      {"chunked-gzip", GelfEncoding::ChunkedGzip}};
  app.add_option("--target", o.target, "Address or host name of the relay")->capture_default_str();
  app.add_option("--port", o.port, "Port of the relay")->required()->check(CLI::Range(1, 65535));
  // Parsed as text and checked with IsMember so a bad value is answered with the names.
  const auto names = [](const auto& map) {
    std::vector<std::string> keys;
    for (const auto& entry : map) keys.push_back(entry.first);
    return keys;
  };
  std::string transport = "udp";
  std::string framing = "octet";
  std::string encoding = "plain";
  app.add_option("--transport", transport, "udp, tcp, tls, gelf-udp, gelf-tcp or gelf-tls")
      ->check(CLI::IsMember(names(transports)))
      ->capture_default_str();
  app.add_option("--framing", framing, "TCP/TLS syslog framing: octet or lf (RFC 6587)")
      ->check(CLI::IsMember(names(framings)))
      ->capture_default_str();
  app.add_option("--gelf-encoding", encoding,
                 "GELF over UDP: plain, zlib, gzip, chunked, chunked-zlib or chunked-gzip")
      ->check(CLI::IsMember(names(encodings)))
      ->capture_default_str();
  app.add_option("--gelf-level", o.gelfLevel, "libdeflate level for GELF zlib/gzip")
      ->check(CLI::Range(1, 12))
      ->capture_default_str();
  app.add_option("--size", o.size, "Message length in bytes (without framing)")
      ->check(CLI::Range(size_t{1}, kMaxMessageSize))
      ->capture_default_str();
  app.add_option("--count", o.count, "Messages to send in total")
      ->check(CLI::Range(uint64_t{0}, kMaxSeq + 1))
      ->capture_default_str();
  app.add_option("--rate", o.rate, "Messages per second across all threads; 0: unlimited")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  app.add_option("--connections", o.connections,
                 "TCP/TLS connections or UDP sockets, dealt round-robin to threads (default: "
                 "one per thread)")
      ->check(CLI::Range(1u, 100000u));
  app.add_option("--threads", o.threads, "Sender threads")
      ->check(CLI::Range(1u, 256u))
      ->capture_default_str();
  app.add_option("--batch", o.batch, "Messages per send call (default: from transport and rate)")
      ->check(CLI::Range(1u, 1u << 20));
  app.add_option("--run-id", o.runId, "Run id written into every message (default: random)");
  app.add_option("--start-seq", o.startSeq, "First sequence number")
      ->check(CLI::Range(uint64_t{0}, kMaxSeq))
      ->capture_default_str();
  app.add_option("--seed", o.seed,
                 "Seed of the padding picks: the same seed sends the same bytes (0: from the "
                 "clock)")
      ->capture_default_str();
  app.add_option("--chunk-size", o.chunkSize, "GELF chunk payload bytes (chunked encodings)")
      ->check(CLI::Range(size_t{1}, kMaxUdpPayload - kGelfChunkHeader))
      ->capture_default_str();
  app.add_option("--ca", o.caFile, "Verify the server's certificate against this CA bundle");
  app.add_option("--cert", o.certFile, "Client certificate chain (PEM) for TLS");
  app.add_option("--key", o.keyFile, "Client private key (PEM) for TLS");
  app.add_option("--server-name", o.serverName, "TLS SNI, and the name verified with --ca");
  app.add_option("--close-timeout", o.closeTimeout,
                 "Seconds to wait for the peer to close after our FIN")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  o.transport = transports.at(transport);
  o.framing = framings.at(framing);
  o.gelfEncoding = encodings.at(encoding);
  const auto usage = [](const std::string& message) {
    std::fprintf(stderr, "kinesyslog_loadgen: %s\n", message.c_str());
    return std::optional<int>(2);
  };
  if (o.runId.empty()) o.runId = randomRunId();
  if (!validRunId(o.runId)) return usage("--run-id: 1 to 64 of [A-Za-z0-9._:-]");
  if (o.connections == 0) o.connections = o.threads;
  if (o.connections < o.threads) return usage("--connections must be at least --threads");
  if (o.startSeq + o.count > kMaxSeq + 1) return usage("--start-seq + --count exceeds 10 digits");
  if (isDatagram(o.transport)) {
    const bool chunked = o.transport == Transport::GelfUdp && isChunked(o.gelfEncoding);
    if (!chunked && o.size > kMaxUdpPayload) {
      return usage("--size exceeds the UDP payload limit of " + std::to_string(kMaxUdpPayload));
    }
    if (chunked && o.gelfEncoding == GelfEncoding::Chunked &&
        o.size > kMaxGelfChunks * o.chunkSize) {
      return usage("--size needs more than 128 chunks of --chunk-size");
    }
  }
  return std::nullopt;
}

int run(int argc, char** argv) {
  Options options;
  if (const auto exitCode = parseOptions(argc, argv, options)) return *exitCode;
  signal(SIGPIPE, SIG_IGN);  // a reset peer is an error return, not a signal

  std::string error;
  auto format = MessageFormat::make(isGelf(options.transport), options.runId, options.size, &error);
  if (!format) {
    std::fprintf(stderr, "kinesyslog_loadgen: %s\n", error.c_str());
    return 2;
  }
  const PaddingPool padding(format->paddingLength());

  SslCtxPtr ctx;
  if (isTls(options.transport)) {
    ctx = makeSslContext(options, &error);
    if (!ctx) {
      std::fprintf(stderr, "kinesyslog_loadgen: %s\n", error.c_str());
      return 2;
    }
  }

  // Connect everything before the clock starts.
  std::vector<std::vector<std::unique_ptr<StreamConnection>>> streams(options.threads);
  std::vector<std::vector<int>> datagramFds(options.threads);
  for (unsigned i = 0; i < options.connections; ++i) {
    if (isDatagram(options.transport)) {
      const int fd = connectSocket(options, SOCK_DGRAM, &error);
      if (fd < 0) {
        std::fprintf(stderr, "kinesyslog_loadgen: %s\n", error.c_str());
        for (auto& fds : datagramFds) {
          for (const int open : fds) close(open);
        }
        return 1;
      }
      datagramFds[i % options.threads].push_back(fd);
    } else {
      auto stream = openStream(options, ctx.get(), &error);
      if (!stream) {
        std::fprintf(stderr, "kinesyslog_loadgen: %s\n", error.c_str());
        return 1;
      }
      streams[i % options.threads].push_back(std::move(stream));
    }
  }

  std::vector<std::unique_ptr<Sender>> senders;
  for (unsigned t = 0; t < options.threads; ++t) {
    senders.push_back(std::make_unique<Sender>(options, padding, *format, t, std::move(streams[t]),
                                               std::move(datagramFds[t])));
  }
  const uint64_t startNs = monotonicNs();
  std::vector<std::thread> threads;
  for (auto& sender : senders) threads.emplace_back([&sender] { sender->run(); });
  for (auto& thread : threads) thread.join();

  ThreadResult total;
  for (const auto& sender : senders) {
    const ThreadResult& r = sender->result();
    total.sent += r.sent;
    total.datagrams += r.datagrams;
    total.bytes += r.bytes;
    total.errors += r.errors;
    total.endNs = std::max(total.endNs, r.endNs);
    total.closedNs = std::max(total.closedNs, r.closedNs);
    total.slipSeconds = std::max(total.slipSeconds, r.slipSeconds);
    total.connectionFailed = total.connectionFailed || r.connectionFailed;
  }
  const double seconds = static_cast<double>(total.endNs - startNs) / 1e9;
  const double closedSeconds = static_cast<double>(total.closedNs - startNs) / 1e9;
  std::string extra;
  if (isDatagram(options.transport) && isGelf(options.transport)) {
    extra = std::string(R"(,"encoding":")") + encodingName(options.gelfEncoding) + "\"";
  } else if (!isDatagram(options.transport) && !isGelf(options.transport)) {
    extra = std::string(R"(,"framing":")") +
            (options.framing == Framing::LineFeed ? "lf" : "octet") + "\"";
  }
  std::printf(
      "{\"sent\":%llu,\"seconds\":%.6f,\"rate\":%.1f,\"bytes\":%llu,\"transport\":\"%s\","
      "\"errors\":%llu%s,\"size\":%zu,\"threads\":%u,\"connections\":%u,\"target_rate\":%.1f,"
      "\"pacing_slip_seconds\":%.6f,\"closed_seconds\":%.6f,\"run_id\":\"%s\","
      "\"start_seq\":%llu,\"datagrams\":%llu}\n",
      static_cast<unsigned long long>(total.sent), seconds,
      seconds > 0 ? static_cast<double>(total.sent) / seconds : 0.0,
      static_cast<unsigned long long>(total.bytes), transportName(options.transport),
      static_cast<unsigned long long>(total.errors), extra.c_str(), options.size, options.threads,
      options.connections, options.rate, total.slipSeconds, closedSeconds, options.runId.c_str(),
      static_cast<unsigned long long>(options.startSeq),
      static_cast<unsigned long long>(total.datagrams));
  std::fflush(stdout);
  return total.connectionFailed ? 1 : 0;
}

}  // namespace
}  // namespace kinesyslog::bench

int main(int argc, char** argv) {
  return kinesyslog::bench::run(argc, argv);
}
