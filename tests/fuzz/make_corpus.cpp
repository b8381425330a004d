// Writes the message fuzzer's seed corpus: small whole segments (header + data area), made by the real writer
// and reader, named valid-* (a consumer reads them without finding corruption) or invalid-* (it must report
// corruption, or open() must refuse the header). tests/fuzz/fuzz_replay_test.cpp checks those names hold.
//   g++ -std=c++20 -I include tests/fuzz/make_corpus.cpp -o /tmp/make_corpus && /tmp/make_corpus tests/fuzz/corpus
// (also built as the target message_fuzz_corpus).
#include <shmring/ring/byte_ring.hpp>
#include <shmring/layout/snapshot.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <new>
#include <string>
#include <vector>

namespace {

using namespace shmring;

/// A message segment in memory, laid out as endpoint::create lays it out.
struct image {
  std::vector<std::byte> bytes;
  layout::header* h;
  std::uint64_t cap;

  std::uint32_t trailer = 0;

  image(std::uint64_t capacity, std::uint64_t first, bool checksums = false)
      : cap(capacity), trailer(checksums ? record::trailer_size : 0u) {
    const std::uint64_t offset = layout::data_offset_for(record::alignment);
    bytes.assign(offset + capacity, std::byte{0});
    h = ::new (static_cast<void*>(bytes.data())) layout::header;
    std::memcpy(h->control.magic, layout_magic, sizeof layout_magic);
    h->control.version = layout_version;
    h->control.kind = static_cast<std::uint32_t>(segment_kind::message);
    h->control.cache_line_size = static_cast<std::uint32_t>(cache_line);
    h->control.element_size = 1;
    h->control.element_align = record::alignment;
    h->control.capacity = capacity;
    h->control.data_offset = offset;
    h->control.segment_size = offset + capacity;
    h->control.initial_index = first;
    if (checksums) h->info.flags = flag_persistent | flag_file_backed | flag_record_checksums;  // layout 4
    h->head.value.store(first);
    h->tail.value.store(first);
    h->control.ready.store(ready_value);
  }
  byte_ring_memory memory() {
    return {&h->head.value, &h->tail.value, bytes.data() + h->control.data_offset, cap, trailer};
  }
  std::byte* data() { return bytes.data() + h->control.data_offset; }
};

std::vector<std::byte> payload(std::size_t n, unsigned salt) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(i * 7 + salt);
  return v;
}

std::uint64_t clk() { return 1000; }

void send(record_writer& w, std::size_t n, unsigned salt, std::uint32_t type = 1, std::uint8_t flags = 0) {
  const auto p = payload(n, salt);
  if (!w.try_write(p, type, flags, clk)) std::abort();
}

void save(const std::string& dir, const std::string& name, const std::vector<std::byte>& b,
          const std::vector<std::uint64_t>& later_heads = {}) {
  std::FILE* f = std::fopen((dir + "/" + name).c_str(), "wb");
  if (f == nullptr) std::abort();
  std::fwrite(b.data(), 1, b.size(), f);
  for (const std::uint64_t x : later_heads) std::fwrite(&x, 1, 8, f);
  std::fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : ".";
  {  // a few whole messages of several types and flags
    image s(256, 0);
    record_writer w(s.memory(), 0, false);
    send(w, 0, 1, 1);
    send(w, 5, 2, 2, record::flag_urgent);
    send(w, 40, 3, 1000, record::flag_compressed | record::flag_encrypted);
    save(dir, "valid-small", s.bytes);
    save(dir, "valid-small-later-heads", s.bytes, {s.h->head.value.load(), s.h->head.value.load()});
    save(dir, "invalid-later-head-backwards", s.bytes, {s.h->head.value.load(), 0});
  }
  {  // layout 4: a file-backed ring's checksummed records (trailers), wrapping; and one with a byte flipped
    image s(1024, 896, true);
    record_writer w(s.memory(), 0, false);
    send(w, 5, 1);
    send(w, 100, 2);  // 144 bytes from 944: padding first
    send(w, 600, 3);  // fragmented (over 472 bytes)
    save(dir, "valid-checksummed", s.bytes);
    s.data()[record::header_size + 2] ^= std::byte{1};  // the first record's payload
    save(dir, "invalid-checksum", s.bytes);
  }
  {  // records that wrap with padding records
    image s(256, 192);
    record_writer w(s.memory(), 0, false);
    send(w, 40, 1);  // 72 bytes: does not fit the 64 left, padding first
    send(w, 60, 2);
    save(dir, "valid-padding", s.bytes);
  }
  {  // a fragmented message published at once, and one after it
    image s(512, 0);
    record_writer w(s.memory(), 0, false);
    send(w, 300, 4);
    send(w, 8, 5);
    save(dir, "valid-fragmented", s.bytes);
  }
  {  // a consumer died after taking the first fragments: the rest is skipped, the next message delivered
    image s(256, 0);
    record_writer w(s.memory(), 0, false);
    record_reader r(s.memory(), 0);
    const auto big = payload(250, 6);
    record_writer::outgoing o{big.data(), big.size(), 1, 0, 7};
    bool published = false;
    (void)w.write_some(o, published);
    (void)r.poll();  // takes fragments 1 and 2
    while (w.write_some(o, published) != record_writer::progress::done) (void)r.poll();
    send(w, 8, 5);
    save(dir, "valid-unsynced", s.bytes);
  }
  {  // a producer died half-way through a fragmented message; its successor's message carries the resync flag
    image s(1024, 0);
    record_writer w(s.memory(), 0, false);
    send(w, 8, 1);  // sequence 0, taken by a consumer: the tail moves to 40, which leaves room after the wrap
    {
      record_reader r(s.memory(), 0);
      if (r.poll() != record_reader::status::ready) std::abort();
      r.release();
    }
    const auto big = payload(1000, 8);
    record_writer::outgoing o{big.data(), big.size(), 1, 0, 7};
    bool published = false;
    // sequence 1: a 480-byte fragment, then one of 440 cut to end at the end of the area; the last 80 bytes do not
    // fit in the 40 bytes the tail left free, and the producer dies
    (void)w.write_some(o, published);
    record_writer heir(s.memory(), w.next_sequence(), true);
    send(heir, 8, 9);  // sequence 2, resync, in those 40 bytes: the reader drops the partial message it holds
    save(dir, "valid-resync", s.bytes);
  }
  {  // indices just below 2^64
    image s(256, std::uint64_t{0} - 128);
    record_writer w(s.memory(), 0, false);
    for (unsigned i = 0; i < 3; ++i) send(w, 30 + i, i);
    save(dir, "valid-wrap-2-64", s.bytes);
  }
  {  // a record longer than the largest one
    image s(256, 0);
    record_writer w(s.memory(), 0, false);
    send(w, 16, 1);
    std::uint32_t bad = 97;
    std::memcpy(s.data(), &bad, 4);
    save(dir, "invalid-length", s.bytes);
  }
  {  // padding that stops short of the end
    image s(256, 192);
    record_writer w(s.memory(), 0, false);
    send(w, 40, 1);
    std::uint32_t bad = 32;
    std::memcpy(s.data() + 192, &bad, 4);
    save(dir, "invalid-padding", s.bytes);
  }
  {  // a producer index that is not a multiple of 8
    image s(256, 0);
    record_writer w(s.memory(), 0, false);
    send(w, 16, 1);
    s.h->head.value.store(s.h->head.value.load() + 4);
    save(dir, "invalid-head", s.bytes);
  }
  {  // a sequence gap
    image s(256, 0);
    record_writer w(s.memory(), 0, false);
    send(w, 8, 1);
    record_writer skip(s.memory(), 5, false);
    send(skip, 8, 2);
    save(dir, "invalid-sequence", s.bytes);
  }
  {  // not a shmring segment
    image s(256, 0);
    s.bytes[0] = std::byte{'X'};
    save(dir, "invalid-magic", s.bytes);
  }
  return 0;
}
