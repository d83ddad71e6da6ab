// kinesyslog_udp_reader: the UDP yardstick of the bench harness (docs/design.md "Performance
// targets", bench/README.md). A bare reader that does what any UDP relay cannot avoid: one socket
// bound like the relay's (SO_RCVBUF 8 MiB), read with recvmmsg 32 datagrams a call
// into 64 KiB slots with the source address, and nothing else: the datagrams are discarded. It
// blocks in poll() when the socket is empty (no spinning: a relay sleeps too) and, like the relay,
// waits --coalesce-us after a read that emptied the socket, so a paced sender's datagrams are
// read in batches rather than one wake-up per few datagrams. Its CPU time is the kernel's receive
// cost plus the wake-ups, for the same datagrams the harness sends the relay.
//
//   kinesyslog_udp_reader --port P [--address A] [--count N] [--idle-timeout S]
//                         [--start-timeout S] [--rcvbuf BYTES] [--batch N] [--coalesce-us US]
//
// Prints `ready port=P` on stderr once bound, then reads until it has N datagrams (--count), or
// nothing arrived for --idle-timeout seconds after the first datagram, or SIGTERM/SIGINT. Then it
// prints one JSON line on stdout: {"datagrams":D,"bytes":B,"calls":C,"cpu_seconds":S,
// "user_seconds":U,"sys_seconds":Y,"seconds":W,"kernel_drops":K,"rcvbuf":R,"batch":N,
// "coalesce_us":US,"ended":"count|idle|signal|start-timeout"}. CPU seconds are the process's
// user + sys (CLOCK_PROCESS_CPUTIME_ID, to the nanosecond; user and sys apart from getrusage
// RUSAGE_SELF, which may count in ticks) from the wake-up that found the first datagram to the
// end: the idle wait at the end blocks in poll() and costs nothing measurable. kernel_drops is the
// kernel's count of datagrams dropped on this socket because its buffer was full (SO_MEMINFO,
// read once at the end, outside the measured time).
// Exit 0 on success, 1 when the socket fails or no datagram arrived before --start-timeout, 2 for
// a usage error.
#include <arpa/inet.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace kinesyslog::bench {
namespace {

// As the relay's UdpReceiver (src/net/udp_receiver.h): a slot holds the largest UDP payload.
constexpr size_t kDatagramBytes = 65536;
constexpr unsigned kMaxBatch = 1024;  // UIO_MAXIOV

volatile sig_atomic_t stopRequested = 0;

void onStopSignal(int) {
  stopRequested = 1;
}

struct Options {
  std::string address = "127.0.0.1";
  uint16_t port = 0;
  uint64_t count = 0;  // 0: until idle
  double idleTimeout = 1.0;
  double startTimeout = 60.0;
  int rcvbuf = 8 * 1024 * 1024;  // what the relay asks for (src/net/listen_socket.cc)
  unsigned batch = 32;           // the relay's recvmmsg batch
  // After a read that emptied the socket, sleep this long before polling again, as the relay
  // does (src/net/udp_receiver.h, kCoalesce): an evenly paced sender otherwise costs a wake-up
  // per two or three datagrams, which no relay has to pay.
  unsigned coalesceMicros = 500;
};

struct Totals {
  uint64_t datagrams = 0;
  uint64_t bytes = 0;
  uint64_t calls = 0;
  uint32_t kernelDrops = 0;
  double cpuSeconds = 0;
  double userSeconds = 0;
  double sysSeconds = 0;
  double seconds = 0;  // first to last datagram, monotonic
  const char* ended = "idle";
};

double monotonicSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double processCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double seconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

int openSocket(const Options& o, int& rcvbufGranted) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  // Like the relay's listen socket; the kernel caps SO_RCVBUF at net.core.rmem_max.
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &o.rcvbuf, sizeof o.rcvbuf);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(o.port);
  if (::inet_pton(AF_INET, o.address.c_str(), &address.sin_addr) != 1) {
    errno = EINVAL;
    ::close(fd);
    return -1;
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  socklen_t length = sizeof rcvbufGranted;
  ::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbufGranted, &length);
  return fd;
}

uint16_t boundPort(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return ntohs(address.sin_port);
}

class Reader {
 public:
  Reader(int fd, const Options& o)
      : fd_(fd),
        options_(o),
        buffers_(static_cast<size_t>(o.batch) * kDatagramBytes),
        headers_(o.batch),
        iovecs_(o.batch),
        addresses_(o.batch) {}

  // False when the socket failed (errno set).
  bool run(Totals& t) {
    if (!waitReadable(options_.startTimeout, t)) {
      if (!stopRequested) t.ended = "start-timeout";
      return true;
    }
    rusage before{};
    getrusage(RUSAGE_SELF, &before);
    const double cpuBefore = processCpuSeconds();
    double first = 0, last = 0;
    while (true) {
      const int got = readUntilDry(t, first, last);
      if (got < 0) return false;
      if (options_.count > 0 && t.datagrams >= options_.count) {
        t.ended = "count";
        break;
      }
      if (got > 0 && options_.coalesceMicros > 0) {
        const timespec pause{0, static_cast<long>(options_.coalesceMicros) * 1000};
        nanosleep(&pause, nullptr);
      }
      if (!waitReadable(options_.idleTimeout, t)) break;
    }
    t.cpuSeconds = processCpuSeconds() - cpuBefore;
    readKernelDrops(t);
    rusage after{};
    getrusage(RUSAGE_SELF, &after);
    t.userSeconds = seconds(after.ru_utime) - seconds(before.ru_utime);
    t.sysSeconds = seconds(after.ru_stime) - seconds(before.ru_stime);
    t.seconds = last - first;
    return true;
  }

 private:
  // Blocks until the socket is readable (true), `timeout` seconds passed or a stop signal came.
  bool waitReadable(double timeout, Totals& t) {
    const double deadline = monotonicSeconds() + timeout;
    while (!stopRequested) {
      const double left = deadline - monotonicSeconds();
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(left * 1000) + 1);
      if (ready > 0) return true;
      if (ready < 0 && errno != EINTR) return false;
    }
    t.ended = "signal";
    return false;
  }

  // Reads batches until the socket is empty or --count is reached. Returns the datagrams read,
  // -1 on a socket error.
  int readUntilDry(Totals& t, double& first, double& last) {
    int total = 0;
    while (options_.count == 0 || t.datagrams < options_.count) {
      prepareHeaders();
      const int received = ::recvmmsg(fd_, headers_.data(), options_.batch, MSG_DONTWAIT, nullptr);
      if (received < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return -1;
      }
      t.calls += 1;
      if (received == 0) break;
      last = monotonicSeconds();
      if (t.datagrams == 0) first = last;
      t.datagrams += static_cast<uint64_t>(received);
      for (int i = 0; i < received; ++i) t.bytes += headers_[i].msg_len;
      total += received;
      if (received < static_cast<int>(options_.batch)) break;
    }
    return total;
  }

  void prepareHeaders() {
    for (unsigned i = 0; i < options_.batch; ++i) {
      iovecs_[i] = {buffers_.data() + static_cast<size_t>(i) * kDatagramBytes, kDatagramBytes};
      headers_[i].msg_hdr = {};
      headers_[i].msg_hdr.msg_iov = &iovecs_[i];
      headers_[i].msg_hdr.msg_iovlen = 1;
      headers_[i].msg_hdr.msg_name = &addresses_[i];
      headers_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    }
  }

  // The socket's cumulative drop count (sock_diag's SK_MEMINFO_DROPS), read once at the end,
  // outside the measured reading, as the relay reads it once per wake-up.
  void readKernelDrops(Totals& t) const {
    uint32_t memory[SK_MEMINFO_VARS] = {};
    socklen_t length = sizeof memory;
    if (::getsockopt(fd_, SOL_SOCKET, SO_MEMINFO, memory, &length) == 0 &&
        length > SK_MEMINFO_DROPS * sizeof(uint32_t)) {
      t.kernelDrops = memory[SK_MEMINFO_DROPS];
    }
  }

  int fd_;
  const Options& options_;
  std::vector<char> buffers_;
  std::vector<mmsghdr> headers_;
  std::vector<iovec> iovecs_;
  std::vector<sockaddr_storage> addresses_;
};

int run(int argc, char** argv) {
  CLI::App app{
      "kinesyslog UDP yardstick: a bare recvmmsg reader measuring its own CPU time for the "
      "datagrams it receives"};
  Options o;
  app.add_option("--address", o.address, "IPv4 address to bind (127.0.0.1)");
  app.add_option("--port", o.port, "UDP port to bind (0: any, printed on stderr)");
  app.add_option("--count", o.count, "stop after this many datagrams (0: when idle)");
  app.add_option("--idle-timeout", o.idleTimeout,
                 "stop when nothing arrived for this many seconds after the first datagram")
      ->check(CLI::PositiveNumber);
  app.add_option("--start-timeout", o.startTimeout, "give up when no datagram came this long")
      ->check(CLI::PositiveNumber);
  app.add_option("--rcvbuf", o.rcvbuf, "SO_RCVBUF to ask for (8388608, as the relay)")
      ->check(CLI::Range(1, 1 << 30));
  app.add_option("--batch", o.batch, "datagrams per recvmmsg call (32, as the relay)")
      ->check(CLI::Range(1u, kMaxBatch));
  app.add_option("--coalesce-us", o.coalesceMicros,
                 "after a read that emptied the socket, sleep this many microseconds before "
                 "polling again (500, as the relay)")
      ->check(CLI::Range(0u, 1000000u));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  struct sigaction stop {};
  stop.sa_handler = onStopSignal;  // no SA_RESTART: poll() returns EINTR
  sigaction(SIGTERM, &stop, nullptr);
  sigaction(SIGINT, &stop, nullptr);

  int rcvbuf = 0;
  const int fd = openSocket(o, rcvbuf);
  if (fd < 0) {
    std::fprintf(stderr, "kinesyslog_udp_reader: cannot bind %s:%u: %s\n", o.address.c_str(),
                 o.port, std::strerror(errno));
    return 1;
  }
  std::fprintf(stderr, "ready port=%u rcvbuf=%d\n", boundPort(fd), rcvbuf);
  Totals t;
  Reader reader(fd, o);
  const bool ok = reader.run(t);
  const int saved = errno;
  ::close(fd);
  if (!ok) {
    std::fprintf(stderr, "kinesyslog_udp_reader: receive failed: %s\n", std::strerror(saved));
    return 1;
  }
  std::printf(
      "{\"datagrams\":%llu,\"bytes\":%llu,\"calls\":%llu,\"cpu_seconds\":%.6f,"
      "\"user_seconds\":%.6f,\"sys_seconds\":%.6f,\"seconds\":%.6f,\"kernel_drops\":%u,"
      "\"rcvbuf\":%d,\"batch\":%u,\"coalesce_us\":%u,\"ended\":\"%s\"}\n",
      static_cast<unsigned long long>(t.datagrams), static_cast<unsigned long long>(t.bytes),
      static_cast<unsigned long long>(t.calls), t.cpuSeconds, t.userSeconds, t.sysSeconds,
      t.seconds, t.kernelDrops, rcvbuf, o.batch, o.coalesceMicros, t.ended);
  std::fflush(stdout);
  return t.datagrams == 0 ? 1 : 0;
}

}  // namespace
}  // namespace kinesyslog::bench

int main(int argc, char** argv) {
  return kinesyslog::bench::run(argc, argv);
}
