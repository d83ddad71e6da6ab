#include "net/listen_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/startup_error.h"

namespace kinesyslog::net {

namespace {

struct ResolvedAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
};

ResolvedAddress resolve(const std::string& address, uint16_t port) {
  ResolvedAddress r;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&r.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&r.storage);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    r.length = sizeof(sockaddr_in);
    r.family = AF_INET;
  } else if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    r.length = sizeof(sockaddr_in6);
    r.family = AF_INET6;
  } else {
    throw StartupError(kExitConfig, "--address '" + address + "' is not an IP address");
  }
  return r;
}

std::string describe(const std::string& address, uint16_t port, Transport transport) {
  return std::string(transport == Transport::kUdp ? "UDP" : "TCP") + " " + address + ":" +
         std::to_string(port);
}

[[noreturn]] void failBind(const std::string& address, uint16_t port, Transport transport,
                           int error) {
  const std::string what = describe(address, port, transport);
  if (error == EADDRINUSE) {
    throw StartupError(kExitConfig, what + " is already in use by another process");
  }
  if (error == EACCES || error == EPERM) {
    throw StartupError(kExitNoPermission,
                       "cannot listen on " + what + ": " + std::strerror(error) +
                           (port < 1024 ? " (a privileged port needs CAP_NET_BIND_SERVICE)" : ""));
  }
  throw StartupError(kExitConfig, "cannot listen on " + what + ": " + std::strerror(error));
}

int socketType(Transport transport) {
  return (transport == Transport::kUdp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC;
}

}  // namespace

void ensurePortFree(const std::string& address, uint16_t port, Transport transport) {
  ResolvedAddress r = resolve(address, port);
  int fd = ::socket(r.family, socketType(transport), 0);
  if (fd < 0) throw StartupError(kExitConfig, std::string("socket: ") + std::strerror(errno));
  int one = 1;
  // SO_REUSEADDR so that our own connections lingering in TIME_WAIT after a restart do not look
  // like another owner; a listening socket still conflicts.
  if (transport == Transport::kTcp) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&r.storage), r.length);
  int error = errno;
  ::close(fd);
  if (rc != 0) failBind(address, port, transport, error);
}

int openReusePortSocket(const std::string& address, uint16_t port, Transport transport) {
  ResolvedAddress r = resolve(address, port);
  int fd = ::socket(r.family, socketType(transport) | SOCK_NONBLOCK, 0);
  if (fd < 0) throw StartupError(kExitConfig, std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (transport == Transport::kTcp) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (transport == Transport::kUdp) {
    // Ask for a large receive buffer: bursts land here while the thread is busy. The kernel
    // caps it at net.core.rmem_max.
    int bytes = 8 * 1024 * 1024;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&r.storage), r.length) != 0) {
    int error = errno;
    ::close(fd);
    failBind(address, port, transport, error);
  }
  if (transport == Transport::kTcp && ::listen(fd, SOMAXCONN) != 0) {
    int error = errno;
    ::close(fd);
    failBind(address, port, transport, error);
  }
  return fd;
}

std::string addressText(const void* address, unsigned length) {
  char text[INET6_ADDRSTRLEN] = {};
  const auto* sa = static_cast<const sockaddr*>(address);
  if (sa->sa_family == AF_INET && length >= sizeof(sockaddr_in)) {
    ::inet_ntop(AF_INET, &static_cast<const sockaddr_in*>(address)->sin_addr, text, sizeof text);
    return text;
  }
  if (sa->sa_family == AF_INET6 && length >= sizeof(sockaddr_in6)) {
    const in6_addr& a = static_cast<const sockaddr_in6*>(address)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a)) {
      ::inet_ntop(AF_INET, &a.s6_addr[12], text, sizeof text);
    } else {
      // glibc's inet_ntop writes the RFC 5952 form: lowercase, longest zero run compressed.
      ::inet_ntop(AF_INET6, &a, text, sizeof text);
    }
    return text;
  }
  if (sa->sa_family == AF_UNIX) return "unix";
  return "unknown";
}

}  // namespace kinesyslog::net
