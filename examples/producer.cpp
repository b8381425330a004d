// producer: pushes --count sequence numbers into the typed ring --name and prints its rate.
// Start `consumer` with the same --name and --capacity, before or after this program: whichever starts first
// creates the ring. Values stay in the ring if this program exits before the consumer reads them.
#include <shmring/shmring.hpp>

#include "common.hpp"

#include <array>
#include <cstdint>
#include <cstdio>

static const char* usage =
    "usage: producer [--name NAME] [--count N] [--capacity C] [--batch B] [--wait spin|yield|sleep] [--cpu K]\n"
    "  Pushes the 8-byte values 0..N-1 into the shmring typed ring NAME (default shmring-demo) and prints\n"
    "  messages/s. --capacity: slots, a power of two (default 65536). --batch: push B values per call with\n"
    "  push_n (default 1: push). --wait: how a full ring is waited on (default sleep). --cpu: pin to CPU K.\n";

int main(int argc, char** argv) try {
  example::args a(argc, argv, usage);
  const std::string name = a.str("name", "shmring-demo");
  const std::uint64_t count = a.num("count", 10'000'000);
  const std::uint64_t capacity = a.num("capacity", 65536);
  const std::uint64_t batch = std::max<std::uint64_t>(1, std::min<std::uint64_t>(a.num("batch", 1), 4096));
  example::pin(a.has("cpu") ? static_cast<long>(a.num("cpu", 0)) : -1);

  shmring::options o;
  o.wait.policy = example::parse_wait(a.str("wait", "sleep"));
  auto p = shmring::producer<std::uint64_t>::open_or_create(name, capacity, o);

  const auto t0 = std::chrono::steady_clock::now();
  if (batch == 1) {
    for (std::uint64_t i = 0; i < count; ++i) p.push(i);
  } else {
    std::array<std::uint64_t, 4096> buf{};
    for (std::uint64_t i = 0; i < count;) {
      const std::uint64_t k = std::min(batch, count - i);
      for (std::uint64_t j = 0; j < k; ++j) buf[j] = i + j;
      p.push_n(std::span<const std::uint64_t>(buf.data(), k));
      i += k;
    }
  }
  const double s = example::seconds_since(t0);
  std::printf("producer: pushed %llu messages in %.3f s: %.1f M messages/s, %.1f MB/s (wake-up calls: %llu)\n",
              static_cast<unsigned long long>(count), s, count / s / 1e6, count * 8.0 / s / 1e6,
              static_cast<unsigned long long>(p.wake_calls()));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "producer: %s\n", e.what());
  return 1;
}
