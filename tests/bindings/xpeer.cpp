// The C++ peer of the cross-language tests (the protocol: tests/bindings/xpeer-protocol.md):
//   shmring_xpeer --role send|recv --kind messages|u64|struct --name NAME --count N --seed S
// It speaks the C++ API itself (message_producer / message_consumer, producer<T> / consumer<T>), so every other
// language's peer is checked against the template endpoints. Exit 0 with a last line "ok <count> <kind>";
// "mismatch at <index>: <what>" on stderr and exit 1 at the first wrong value; a shmring error's message on
// stderr and exit 2.
#include <shmring/shmring.hpp>

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct xrecord {
  std::int32_t id;
  double value;
  static constexpr std::string_view shmring_type_name = "xlang.record/v1";
};
static_assert(sizeof(xrecord) == 16 && alignof(xrecord) == 8);

constexpr std::uint64_t message_ring_bytes = 1048576;
constexpr std::uint64_t typed_ring_elements = 65536;
constexpr std::uint64_t big_message = 8388608;  // the one fragmented message, at index N/2
constexpr std::size_t batch = 4096;             // typed elements per push_n / pop_n

struct splitmix64 {
  std::uint64_t x;
  std::uint64_t next() noexcept {
    x += 0x9E3779B97F4A7C15ull;
    std::uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
};

struct message_spec {
  std::uint64_t size;
  std::uint32_t type;
  std::uint8_t flags;
};

message_spec next_message(splitmix64& g, std::uint64_t i, std::uint64_t n) {
  const std::uint64_t a = g.next();
  const std::uint64_t b = g.next();
  return {i == n / 2 ? big_message : a % 65537, static_cast<std::uint32_t>(1 + b % 100000),
          static_cast<std::uint8_t>((b >> 32) & 7)};
}

// Payload byte j of message i is (uint8)(j * 7 + i * 131 + S). Since 7 * 183 = 1 (mod 256), that is pattern[j +
// offset] with pattern[k] = (uint8)(7 k) and offset = 183 (i * 131 + S) mod 256: every payload is a slice of one
// buffer.
std::vector<std::byte> make_pattern() {
  std::vector<std::byte> p(big_message + 256);
  for (std::size_t k = 0; k < p.size(); ++k) p[k] = static_cast<std::byte>(static_cast<std::uint8_t>(k * 7));
  return p;
}
std::span<const std::byte> payload_of(const std::vector<std::byte>& pattern, std::uint64_t i, std::uint64_t seed,
                                      std::uint64_t size) {
  const std::size_t offset = static_cast<std::size_t>(((i * 131 + seed) * 183) & 255);
  return {pattern.data() + offset, static_cast<std::size_t>(size)};
}

std::uint32_t crc32_of(std::span<const std::byte> data) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  const auto* p = reinterpret_cast<const Bytef*>(data.data());
  for (std::size_t left = data.size(); left != 0;) {  // zlib takes at most uInt bytes a call
    const uInt n = static_cast<uInt>(std::min<std::size_t>(left, 1u << 30));
    crc = ::crc32(crc, p, n);
    p += n;
    left -= n;
  }
  return static_cast<std::uint32_t>(crc);
}

std::uint64_t u64_value(std::uint64_t k, std::uint64_t seed) noexcept { return (k * 0x9E3779B97F4A7C15ull) ^ seed; }
xrecord record_value(std::uint64_t k) noexcept {
  return {static_cast<std::int32_t>(k & 0x7fffffff), static_cast<double>(k) * 0.5};
}

struct mismatch {
  std::uint64_t index;
  std::string what;
};

void send_messages(const std::string& name, std::uint64_t n, std::uint64_t seed) {
  auto p = shmring::message_producer::open_or_create(name, message_ring_bytes);
  const std::vector<std::byte> pattern = make_pattern();
  splitmix64 g{seed};
  for (std::uint64_t i = 0; i < n; ++i) {
    const message_spec m = next_message(g, i, n);
    p.send(payload_of(pattern, i, seed, m.size), static_cast<shmring::message_type>(m.type),
           static_cast<shmring::message_flags>(m.flags));
  }
  p.close();
}

void recv_messages(const std::string& name, std::uint64_t n, std::uint64_t seed) {
  auto c = shmring::message_consumer::open_or_create(name, message_ring_bytes);
  const std::vector<std::byte> pattern = make_pattern();
  std::vector<std::byte> buf(big_message);
  splitmix64 g{seed};
  for (std::uint64_t i = 0; i < n; ++i) {
    const message_spec m = next_message(g, i, n);
    const shmring::message_info info = c.receive(buf);
    if (info.sequence != i) throw mismatch{i, "sequence " + std::to_string(info.sequence)};
    if (static_cast<std::uint32_t>(info.type) != m.type)
      throw mismatch{i, "type " + std::to_string(static_cast<std::uint32_t>(info.type)) + ", expected " +
                            std::to_string(m.type)};
    if (static_cast<std::uint8_t>(info.flags) != m.flags)
      throw mismatch{i, "flags " + std::to_string(static_cast<unsigned>(info.flags)) + ", expected " +
                            std::to_string(m.flags)};
    if (info.length != m.size)
      throw mismatch{i, "length " + std::to_string(info.length) + ", expected " + std::to_string(m.size)};
    const std::uint32_t got = crc32_of(std::span<const std::byte>(buf.data(), info.length));
    const std::uint32_t want = crc32_of(payload_of(pattern, i, seed, m.size));
    if (got != want) throw mismatch{i, "crc32 " + std::to_string(got) + ", expected " + std::to_string(want)};
  }
}

void send_u64(const std::string& name, std::uint64_t n, std::uint64_t seed) {
  auto p = shmring::producer<std::uint64_t>::open_or_create(name, typed_ring_elements);
  std::vector<std::uint64_t> buf(batch);
  for (std::uint64_t k = 0; k < n;) {
    const std::size_t m = static_cast<std::size_t>(std::min<std::uint64_t>(batch, n - k));
    for (std::size_t j = 0; j < m; ++j) buf[j] = u64_value(k + j, seed);
    p.push_n(std::span<const std::uint64_t>(buf.data(), m));
    k += m;
  }
  p.close();
}

void recv_u64(const std::string& name, std::uint64_t n, std::uint64_t seed) {
  auto c = shmring::consumer<std::uint64_t>::open_or_create(name, typed_ring_elements);
  std::vector<std::uint64_t> buf(batch);
  for (std::uint64_t k = 0; k < n;) {
    const std::size_t m = c.pop_n(std::span<std::uint64_t>(buf.data(), std::min<std::uint64_t>(batch, n - k)));
    for (std::size_t j = 0; j < m; ++j, ++k)
      if (buf[j] != u64_value(k, seed))
        throw mismatch{k, "value " + std::to_string(buf[j]) + ", expected " + std::to_string(u64_value(k, seed))};
  }
}

void send_struct(const std::string& name, std::uint64_t n) {
  auto p = shmring::producer<xrecord>::open_or_create(name, typed_ring_elements);
  std::vector<xrecord> buf(batch);
  for (std::uint64_t k = 0; k < n;) {
    const std::size_t m = static_cast<std::size_t>(std::min<std::uint64_t>(batch, n - k));
    for (std::size_t j = 0; j < m; ++j) buf[j] = record_value(k + j);
    p.push_n(std::span<const xrecord>(buf.data(), m));
    k += m;
  }
  p.close();
}

void recv_struct(const std::string& name, std::uint64_t n) {
  auto c = shmring::consumer<xrecord>::open_or_create(name, typed_ring_elements);
  std::vector<xrecord> buf(batch);
  for (std::uint64_t k = 0; k < n;) {
    const std::size_t m = c.pop_n(std::span<xrecord>(buf.data(), std::min<std::uint64_t>(batch, n - k)));
    for (std::size_t j = 0; j < m; ++j, ++k) {
      const xrecord want = record_value(k);
      if (buf[j].id != want.id) throw mismatch{k, "id " + std::to_string(buf[j].id) + ", expected " + std::to_string(want.id)};
      if (buf[j].value != want.value)
        throw mismatch{k, "value " + std::to_string(buf[j].value) + ", expected " + std::to_string(want.value)};
    }
  }
}

int usage(const char* why) {
  std::fprintf(stderr,
               "shmring_xpeer: %s\nusage: shmring_xpeer --role send|recv --kind messages|u64|struct --name NAME "
               "--count N --seed S\n",
               why);
  return 2;
}

bool parse_u64(const std::string& s, std::uint64_t& out) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return false;
  try {
    out = std::stoull(s);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string role, kind, name, count_s, seed_s;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (i + 1 >= argc) return usage("every option takes a value");
    std::string* slot = a == "--role" ? &role : a == "--kind" ? &kind : a == "--name" ? &name
                      : a == "--count" ? &count_s : a == "--seed" ? &seed_s : nullptr;
    if (slot == nullptr) return usage("unknown option");
    *slot = argv[++i];
  }
  std::uint64_t count = 0, seed = 0;
  if (role != "send" && role != "recv") return usage("--role is send or recv");
  if (kind != "messages" && kind != "u64" && kind != "struct") return usage("--kind is messages, u64 or struct");
  if (name.empty()) return usage("--name is missing");
  if (!parse_u64(count_s, count) || !parse_u64(seed_s, seed)) return usage("--count and --seed are unsigned integers");
  try {
    const bool send = role == "send";
    if (kind == "messages") {
      if (send) send_messages(name, count, seed); else recv_messages(name, count, seed);
    } else if (kind == "u64") {
      if (send) send_u64(name, count, seed); else recv_u64(name, count, seed);
    } else {
      if (send) send_struct(name, count); else recv_struct(name, count);
    }
  } catch (const mismatch& m) {
    std::fprintf(stderr, "mismatch at %llu: %s\n", static_cast<unsigned long long>(m.index), m.what.c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  std::printf("ok %llu %s\n", static_cast<unsigned long long>(count), kind.c_str());
  return 0;
}
