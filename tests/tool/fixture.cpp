// Live rings for the tool's test (tests/tool/tool_test.py). Each command sets a ring up, prints "ready", and keeps
// it as it is until its standard input closes (then detaches cleanly and exits 0), or until it is killed.
//   tool_fixture producer NAME CAP K   create a typed u64 ring of CAP slots as producer and push K values
//   tool_fixture consumer NAME K       open it as consumer and pop K values (checked)
//   tool_fixture mover NAME CAP        create a typed ring with both sides; each stdin line "move N" moves N values
//   tool_fixture message NAME CAP K    create a message ring of CAP bytes as producer and send K strings
//   tool_fixture replayable NAME CAP K R  as message (the even ones flagged urgent), and also attach its consumer
//                                      and receive R of them (checked): for `shmring dump`
//   tool_fixture sender NAME CAP       create a message ring of CAP bytes as producer; each stdin line "send N"
//                                      sends N more strings "hello i" and answers "sent" (for `dump --follow`)
#include <shmring/shmring.hpp>
#if __has_include(<shmring/message.hpp>)
#include <shmring/message.hpp>
#define TOOL_FIXTURE_MESSAGES 1
#else
#define TOOL_FIXTURE_MESSAGES 0
#endif

#include <cstdint>
#include <cstdio>
#include <string>

#include <unistd.h>

namespace {
void ready() {
  std::printf("ready\n");
  std::fflush(stdout);
}

void until_stdin_closes() {
  char buf[64];
  while (::read(STDIN_FILENO, buf, sizeof buf) > 0) {
  }
}
}  // namespace

int main(int argc, char* argv[]) {
  try {
    const std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "producer" && argc == 5) {
      auto p = shmring::producer<std::uint64_t>::create(argv[2], std::stoull(argv[3]));
      for (std::uint64_t i = 0, k = std::stoull(argv[4]); i < k; ++i)
        if (!p.try_push(i)) return 3;
      ready();
      until_stdin_closes();
      return 0;
    }
    if (cmd == "consumer" && argc == 4) {
      auto c = shmring::consumer<std::uint64_t>::open(argv[2]);
      for (std::uint64_t i = 0, k = std::stoull(argv[3]); i < k; ++i)
        if (c.try_pop() != i) return 4;
      ready();
      until_stdin_closes();
      return 0;
    }
    if (cmd == "mover" && argc == 4) {
      // One thread, both sides: each stdin line "move N" moves N more values through the ring (every value
      // checked), then answers "moved". The ring is idle between commands.
      auto p = shmring::producer<std::uint64_t>::create(argv[2], std::stoull(argv[3]));
      auto c = shmring::consumer<std::uint64_t>::open(argv[2]);
      ready();
      std::uint64_t next_in = 0, next_out = 0;
      char line[64];
      while (std::fgets(line, sizeof line, stdin) != nullptr) {
        const std::uint64_t n = std::stoull(std::string(line).substr(5));
        for (const std::uint64_t end = next_in + n; next_out < end;) {
          while (next_in < end && p.try_push(next_in)) ++next_in;
          while (const auto v = c.try_pop())
            if (*v != next_out++) return 4;
        }
        std::printf("moved\n");
        std::fflush(stdout);
      }
      return 0;
    }
#if TOOL_FIXTURE_MESSAGES
    if (cmd == "message" && argc == 5) {
      auto p = shmring::message_producer::create(argv[2], std::stoull(argv[3]));
      for (std::uint64_t i = 0, k = std::stoull(argv[4]); i < k; ++i)
        if (!p.try_send(shmring::text_bytes("hello " + std::to_string(i)))) return 3;
      ready();
      until_stdin_closes();
      return 0;
    }
    if (cmd == "replayable" && argc == 6) {
      auto p = shmring::message_producer::create(argv[2], std::stoull(argv[3]));
      auto c = shmring::message_consumer::open(argv[2]);
      for (std::uint64_t i = 0, k = std::stoull(argv[4]); i < k; ++i)
        if (!p.try_send(shmring::text_bytes("hello " + std::to_string(i)), shmring::message_type::data,
                        i % 2 == 0 ? shmring::message_flags::urgent : shmring::message_flags::none))
          return 3;
      for (std::uint64_t i = 0, r = std::stoull(argv[5]); i < r; ++i) {
        const auto m = c.try_receive();
        if (!m || m->sequence != i || m->text() != "hello " + std::to_string(i)) return 4;
      }
      ready();
      until_stdin_closes();
      return 0;
    }
    if (cmd == "sender" && argc == 4) {
      auto p = shmring::message_producer::create(argv[2], std::stoull(argv[3]));
      ready();
      std::uint64_t next = 0;
      char line[64];
      while (std::fgets(line, sizeof line, stdin) != nullptr) {
        for (const std::uint64_t end = next + std::stoull(std::string(line).substr(5)); next < end; ++next)
          p.send(shmring::text_bytes("hello " + std::to_string(next)));
        std::printf("sent\n");
        std::fflush(stdout);
      }
      return 0;
    }
#endif
    std::fprintf(stderr, "usage: tool_fixture producer NAME CAP K | consumer NAME K | mover NAME CAP | message NAME CAP K"
                         " | replayable NAME CAP K R | sender NAME CAP\n");
    return 2;
  } catch (const shmring::error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 10 + static_cast<int>(e.code());
  }
}
