// One side of a ring, built outside CMake's compiler choice: tests/layout/CMakeLists.txt compiles this file with
// g++, with clang++ and with g++ -m32, and tests/layout/cross/run.cmake runs the builds against each other.
//   peer info                          prints the build's pointer size and layout constants
//   peer produce NAME COUNT [u64]      open_or_create as producer, push COUNT records (or u64 values), then
//                                      print "checksum <n>" on stdout
//   peer consume NAME COUNT [u64]      open_or_create as consumer, pop and check every field of COUNT records,
//                                      then read the producer's "checksum <n>" line from stdin and compare
//   peer create-huge NAME LOG2CAP      create a persistent record ring of 2^LOG2CAP slots (sparse) and exit
//   peer open-huge NAME                open it as a consumer
// Exit codes: 0 ok; 2 a wrong value (the field is named on stderr); 3 checksum mismatch; 4 usage;
// 10 + shmring::errc when shmring threw (e.g. 20 = element_mismatch, 22 = layout_mismatch).
#include <shmring/shmring.hpp>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

namespace {

// Every kind of field a user puts in an element, at natural offsets. alignas(8) so that i386, where a
// uint64_t/double member is only 4-aligned, lays it out exactly as x86-64 does.
struct alignas(8) record {
  std::uint64_t seq;
  std::int64_t neg;
  double real;
  std::uint32_t u32;
  std::int16_t i16;
  std::uint8_t u8;
  char tag[13];
};
static_assert(sizeof(record) == 48 && alignof(record) == 8);
static_assert(offsetof(record, real) == 16 && offsetof(record, u32) == 24 && offsetof(record, tag) == 31);

std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

record make(std::uint64_t i) {
  record r{};
  const std::uint64_t m = mix(i);
  r.seq = i;
  r.neg = -static_cast<std::int64_t>(m >> 1);
  r.real = static_cast<double>(i) * 0.5 - 1e9;
  r.u32 = static_cast<std::uint32_t>(m);
  r.i16 = static_cast<std::int16_t>(m >> 32);
  r.u8 = static_cast<std::uint8_t>(m >> 48);
  std::snprintf(r.tag, sizeof r.tag, "#%" PRIu64, static_cast<std::uint64_t>(i % 100000000000u));  // <= 11 digits
  return r;
}

// Compares field by field and names the first that differs.
const char* wrong_field(const record& got, const record& want) {
  if (got.seq != want.seq) return "seq";
  if (got.neg != want.neg) return "neg";
  if (std::memcmp(&got.real, &want.real, sizeof got.real) != 0) return "real";
  if (got.u32 != want.u32) return "u32";
  if (got.i16 != want.i16) return "i16";
  if (got.u8 != want.u8) return "u8";
  if (std::memcmp(got.tag, want.tag, sizeof got.tag) != 0) return "tag";
  return nullptr;
}

shmring::options opts() {
  shmring::options o;
  o.open_timeout = std::chrono::seconds(10);
  return o;
}

constexpr std::uint64_t capacity = 1024;

int produce(const std::string& name, std::uint64_t n, bool u64) {
  std::uint64_t sum = 0;
  if (u64) {
    auto p = shmring::producer<std::uint64_t>::open_or_create(name, capacity, opts());
    for (std::uint64_t i = 0; i < n; ++i) {
      p.push(mix(i));
      sum = mix(sum ^ mix(i));
    }
  } else {
    auto p = shmring::producer<record>::open_or_create(name, capacity, opts());
    for (std::uint64_t i = 0; i < n; ++i) {
      const record r = make(i);
      p.push(r);
      sum = mix(sum ^ mix(i) ^ static_cast<std::uint64_t>(r.neg));
    }
  }
  std::printf("checksum %" PRIu64 "\n", sum);
  return 0;
}

int consume(const std::string& name, std::uint64_t n, bool u64) {
  std::uint64_t sum = 0;
  if (u64) {
    auto c = shmring::consumer<std::uint64_t>::open_or_create(name, capacity, opts());
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::uint64_t v = c.pop();
      if (v != mix(i)) {
        std::fprintf(stderr, "value %" PRIu64 " is wrong\n", i);
        return 2;
      }
      sum = mix(sum ^ v);
    }
  } else {
    auto c = shmring::consumer<record>::open_or_create(name, capacity, opts());
    for (std::uint64_t i = 0; i < n; ++i) {
      const record r = c.pop();
      if (const char* f = wrong_field(r, make(i))) {
        std::fprintf(stderr, "record %" PRIu64 ": field %s is wrong\n", i, f);
        return 2;
      }
      sum = mix(sum ^ mix(i) ^ static_cast<std::uint64_t>(r.neg));
    }
  }
  std::string line;
  std::getline(std::cin, line);
  if (line != "checksum " + std::to_string(sum)) {
    std::fprintf(stderr, "checksum mismatch: producer said \"%s\", consumer computed %" PRIu64 "\n", line.c_str(), sum);
    return 3;
  }
  std::printf("ok %" PRIu64 " %s checksum %" PRIu64 "\n", n, u64 ? "u64" : "records", sum);
  return 0;
}

}  // namespace

int main(int argc, char* argv[]) {
  try {
    const std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "info") {
      std::printf("pointer %zu header %zu cache_line %zu alignof(u64) %zu\n", sizeof(void*),
                  sizeof(shmring::layout::header), shmring::cache_line, alignof(std::uint64_t));
      return 0;
    }
    if ((cmd == "produce" || cmd == "consume") && argc >= 4) {
      const bool u64 = argc > 4 && std::string(argv[4]) == "u64";
      const std::uint64_t n = std::stoull(argv[3]);
      return cmd == "produce" ? produce(argv[2], n, u64) : consume(argv[2], n, u64);
    }
    if (cmd == "create-huge" && argc == 4) {
      shmring::options o = opts();
      o.persistent = true;
      auto p = shmring::producer<record>::create(argv[2], std::uint64_t{1} << std::stoi(argv[3]), o);
      std::printf("created %" PRIu64 " slots\n", p.capacity());
      return 0;
    }
    if (cmd == "open-huge" && argc == 3) {
      auto c = shmring::consumer<record>::open(argv[2], opts());
      std::printf("opened %" PRIu64 " slots\n", c.capacity());
      return 0;
    }
    std::fprintf(stderr, "usage: peer info | produce|consume NAME COUNT [u64] | create-huge NAME LOG2CAP | open-huge NAME\n");
    return 4;
  } catch (const shmring::error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 10 + static_cast<int>(e.code());
  }
}
