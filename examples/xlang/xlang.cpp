// BitRPC's cross-language program in C++: a producer and a consumer of one message ring, either of which may be
// this program or its C# or Python twin (examples/xlang/: same command line, same messages).
//   xlang --mode producer --name NAME [--count N]
//   xlang --mode consumer --name NAME
// The producer sends, N times (default 3), a string "Hello from C++ #k" and then a record
// struct { int32_t id; double value; } = {k, k * 1.5}, then closes its side. The consumer prints each string and
// record as it arrives, until the producer has closed. Either side may start first (both open_or_create).
#include <shmring/shmring.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace {

constexpr std::uint64_t ring_bytes = 1024 * 1024;

struct record {
  std::int32_t id;
  double value;
};

void produce(const std::string& name, int count) {
  auto p = shmring::message_producer::open_or_create(name, ring_bytes);
  for (int k = 1; k <= count; ++k) {
    const std::string text = "Hello from C++ #" + std::to_string(k);
    p.send_string(text);
    p.send_typed(record{k, k * 1.5});
    std::printf("sent: \"%s\" and {id=%d, value=%g}\n", text.c_str(), k, k * 1.5);
  }
  p.close();
}

void consume(const std::string& name) {
  auto c = shmring::message_consumer::open_or_create(name, ring_bytes);
  try {
    for (;;) {
      std::printf("string: %s\n", c.receive_string().c_str());
      const record r = c.receive_typed<record>();
      std::printf("struct: id=%d value=%g\n", r.id, r.value);
      std::fflush(stdout);
    }
  } catch (const shmring::error& e) {
    if (e.code() != shmring::errc::closed) throw;
    std::printf("the producer closed the stream\n");
  }
}

int usage() {
  std::fprintf(stderr, "usage: xlang --mode producer|consumer --name NAME [--count N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode, name;
  int count = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view a = argv[i];
    if (a == "--mode") mode = argv[i + 1];
    else if (a == "--name") name = argv[i + 1];
    else if (a == "--count") count = std::atoi(argv[i + 1]);
    else return usage();
  }
  if ((mode != "producer" && mode != "consumer") || name.empty() || count < 0 || argc % 2 == 0) return usage();
  try {
    if (mode == "producer") produce(name, count);
    else consume(name);
  } catch (const shmring::error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
