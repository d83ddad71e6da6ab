#include "net/sender_address_steering.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>

namespace kinesyslog::net {

namespace {

constexpr uint32_t kGelfChunkMagic = 0x1e0f;
// Not the index of a socket: the kernel chooses by its own hash of the 4-tuple.
constexpr uint32_t kKernelHash = 0xffffffff;

constexpr uint32_t net(uint32_t offset) {
  return static_cast<uint32_t>(SKF_NET_OFF) + offset;
}

}  // namespace

std::vector<sock_filter> chunkSteeringProgram(unsigned sockets) {
  // Jump offsets count the instructions skipped after the jump. A load past the end of the
  // packet ends the program with 0: a datagram under 2 bytes goes to the first socket.
  return {
      // A GELF chunk? ("GELF via UDP": chunks start with the magic bytes 0x1e 0x0f.)
      BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kGelfChunkMagic, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, kKernelHash),
      // A = the IP version (the high nibble of the first byte of either header).
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, net(0)),
      BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 4),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 2, 0),
      // IPv4: the source address.
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, net(12)),
      BPF_STMT(BPF_JMP | BPF_JA, 10),
      // IPv6: the four words of the source address, folded with XOR.
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, net(8)),
      BPF_STMT(BPF_MISC | BPF_TAX, 0),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, net(12)),
      BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
      BPF_STMT(BPF_MISC | BPF_TAX, 0),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, net(16)),
      BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
      BPF_STMT(BPF_MISC | BPF_TAX, 0),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, net(20)),
      BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
      // Mix all 32 bits into the low ones (the "lowbias32" integer hash), so that addresses
      // that differ only in a few bits still spread whatever the number of sockets:
      // x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16.
      BPF_STMT(BPF_MISC | BPF_TAX, 0),
      BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16),
      BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
      BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, 0x7feb352d),
      BPF_STMT(BPF_MISC | BPF_TAX, 0),
      BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 15),
      BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
      BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, 0x846ca68b),
      BPF_STMT(BPF_MISC | BPF_TAX, 0),
      BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16),
      BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
      BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, sockets),
      BPF_STMT(BPF_RET | BPF_A, 0),
  };
}

int steerChunksBySenderAddress(int fd, unsigned sockets) {
  std::vector<sock_filter> program = chunkSteeringProgram(sockets);
  sock_fprog attach{static_cast<unsigned short>(program.size()), program.data()};
  if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &attach, sizeof attach) != 0) {
    return errno;
  }
  return 0;
}

}  // namespace kinesyslog::net
