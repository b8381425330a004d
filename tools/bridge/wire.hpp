// shmring-bridge: the wire format (docs/bridge.md, "Wire format"). Frames are single ZeroMQ message parts,
// little-endian, fixed headers; decode() checks every length and field before anything is used, so a malformed or
// hostile frame is refused (and counted by the caller), never read past its end.
// May touch: nothing but the buffers it is handed.
#pragma once

#include <shmring/layout/record.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

namespace shmring_bridge::wire {

static_assert(std::endian::native == std::endian::little, "the wire format is little-endian; so is this build");

inline constexpr std::uint32_t magic = 0x42524853u;  // "SHRB"
inline constexpr std::uint8_t version = 1;

enum class kind : std::uint8_t { hello = 1, welcome = 2, data = 3, ack = 4 };

inline constexpr std::size_t prefix_size = 8;     // magic u32, version u8, kind u8, reserved u16 (0)
inline constexpr std::size_t hello_size = 56;
inline constexpr std::size_t welcome_size = 40;
inline constexpr std::size_t data_header_size = 24;
inline constexpr std::size_t chunk_header_size = 56;
inline constexpr std::size_t ack_size = 40;
/// Most chunks one DATA frame may carry.
inline constexpr std::uint32_t max_chunks = 65536;

/// A stream: the sending ring, as its creation time and a hash of its name.
struct stream_id {
  std::uint64_t created_ns = 0;
  std::uint64_t name_hash = 0;
  friend bool operator==(const stream_id&, const stream_id&) = default;
};

inline std::uint64_t fnv1a64(std::span<const std::byte> b, std::uint64_t h = 14695981039346656037ull) noexcept {
  for (const std::byte c : b) h = (h ^ static_cast<std::uint8_t>(c)) * 1099511628211ull;
  return h;
}

struct hello {
  std::uint64_t session = 0;   ///< the sender's random, nonzero session
  stream_id stream;
  std::uint64_t released = 0;  ///< the sender ring's tail: everything before it was acknowledged and freed
  std::uint64_t window = 0;    ///< bytes the sender keeps in flight at most (informational)
};

enum class welcome_status : std::uint32_t { accepted = 0, other_stream = 1, behind = 2 };

struct welcome {
  std::uint64_t session = 0;
  welcome_status status = welcome_status::accepted;
  std::uint64_t next = 0;  ///< accepted: the sender index of the record the receiver needs next
};

/// One chunk: bytes [piece_offset, piece_offset + length) of the payload of the sender ring's record that spans
/// sender indices [from, to), and that record's header fields.
struct chunk {
  std::uint64_t from = 0, to = 0;
  std::uint64_t sequence = 0;
  std::uint64_t timestamp_ns = 0;
  std::uint32_t type = 0;
  std::uint32_t message_length = 0;
  std::uint32_t record_length = 0;
  std::uint32_t piece_offset = 0;
  std::uint32_t length = 0;
  std::uint16_t type_tag = 0;
  std::uint8_t flags = 0;  ///< the record's flags (record::flag_*)
  const std::byte* payload = nullptr;
};

struct ack {
  std::uint64_t session = 0;
  std::uint64_t next = 0;        ///< every record before this sender index is written into the receiving ring
  std::uint32_t flags = 0;       ///< ack_gap: a chunk was missing; resend from next
  std::uint64_t next_sequence = 0;  ///< the sequence after the last whole message written (informational)
};
inline constexpr std::uint32_t ack_gap = 1;

// ---- encoding ------------------------------------------------------------------------------------------------

template <class T>
inline void put(std::byte* at, T v) noexcept {
  std::memcpy(at, &v, sizeof v);
}
template <class T>
inline T get(const std::byte* at) noexcept {
  T v;
  std::memcpy(&v, at, sizeof v);
  return v;
}

inline void put_prefix(std::byte* p, kind k) noexcept {
  put<std::uint32_t>(p, magic);
  put<std::uint8_t>(p + 4, version);
  put<std::uint8_t>(p + 5, static_cast<std::uint8_t>(k));
  put<std::uint16_t>(p + 6, 0);
}

inline std::vector<std::byte> encode(const hello& h) {
  std::vector<std::byte> b(hello_size);
  put_prefix(b.data(), kind::hello);
  put(b.data() + 8, h.session);
  put(b.data() + 16, h.stream.created_ns);
  put(b.data() + 24, h.stream.name_hash);
  put(b.data() + 32, h.released);
  put(b.data() + 40, h.window);
  put<std::uint64_t>(b.data() + 48, 0);
  return b;
}

inline std::vector<std::byte> encode(const welcome& w) {
  std::vector<std::byte> b(welcome_size);
  put_prefix(b.data(), kind::welcome);
  put(b.data() + 8, w.session);
  put(b.data() + 16, static_cast<std::uint32_t>(w.status));
  put<std::uint32_t>(b.data() + 20, 0);
  put(b.data() + 24, w.next);
  put<std::uint64_t>(b.data() + 32, 0);
  return b;
}

inline std::vector<std::byte> encode(const ack& a) {
  std::vector<std::byte> b(ack_size);
  put_prefix(b.data(), kind::ack);
  put(b.data() + 8, a.session);
  put(b.data() + 16, a.next);
  put(b.data() + 24, a.flags);
  put<std::uint32_t>(b.data() + 28, 0);
  put(b.data() + 32, a.next_sequence);
  return b;
}

/// Bytes a chunk of `length` payload bytes takes in a DATA frame (its header, the payload padded to 8).
constexpr std::size_t chunk_size(std::size_t length) noexcept { return chunk_header_size + ((length + 7) & ~std::size_t{7}); }

/// A DATA frame built chunk by chunk (the sender's batch).
class data_builder {
 public:
  void start(std::uint64_t session) {
    buf_.resize(data_header_size);
    put_prefix(buf_.data(), kind::data);
    put(buf_.data() + 8, session);
    count_ = 0;
  }
  /// Appends c (its payload copied from c.payload with copy, a memcpy-like callable for peer memory).
  template <class Copy>
  void add(const chunk& c, Copy&& copy) {
    const std::size_t at = buf_.size();
    buf_.resize(at + chunk_size(c.length));
    std::byte* p = buf_.data() + at;
    put(p, c.from);
    put(p + 8, c.to);
    put(p + 16, c.sequence);
    put(p + 24, c.timestamp_ns);
    put(p + 32, c.type);
    put(p + 36, c.message_length);
    put(p + 40, c.record_length);
    put(p + 44, c.piece_offset);
    put(p + 48, c.length);
    put(p + 52, c.type_tag);
    put(p + 54, c.flags);
    put<std::uint8_t>(p + 55, 0);
    if (c.length != 0) copy(p + chunk_header_size, c.payload, c.length);
    std::memset(p + chunk_header_size + c.length, 0, chunk_size(c.length) - chunk_header_size - c.length);
    ++count_;
  }
  /// The frame, with its chunk count written.
  std::span<const std::byte> finish() {
    put<std::uint32_t>(buf_.data() + 16, count_);
    put<std::uint32_t>(buf_.data() + 20, 0);
    return buf_;
  }
  [[nodiscard]] std::size_t bytes() const noexcept { return buf_.size(); }
  [[nodiscard]] std::uint32_t chunks() const noexcept { return count_; }

 private:
  std::vector<std::byte> buf_;
  std::uint32_t count_ = 0;
};

// ---- decoding: every field of an untrusted frame is checked before use ------------------------------------------

/// The kind of a frame whose prefix is valid, or nothing.
inline std::optional<kind> kind_of(std::span<const std::byte> f) noexcept {
  if (f.size() < prefix_size) return std::nullopt;
  if (get<std::uint32_t>(f.data()) != magic || get<std::uint8_t>(f.data() + 4) != version ||
      get<std::uint16_t>(f.data() + 6) != 0)
    return std::nullopt;
  const auto k = get<std::uint8_t>(f.data() + 5);
  if (k < 1 || k > 4) return std::nullopt;
  return static_cast<kind>(k);
}

inline std::optional<hello> decode_hello(std::span<const std::byte> f) noexcept {
  if (f.size() != hello_size || kind_of(f) != kind::hello) return std::nullopt;
  hello h{get<std::uint64_t>(f.data() + 8), {get<std::uint64_t>(f.data() + 16), get<std::uint64_t>(f.data() + 24)},
          get<std::uint64_t>(f.data() + 32), get<std::uint64_t>(f.data() + 40)};
  if (h.session == 0 || h.released % shmring::record::alignment != 0 || get<std::uint64_t>(f.data() + 48) != 0)
    return std::nullopt;
  return h;
}

inline std::optional<welcome> decode_welcome(std::span<const std::byte> f) noexcept {
  if (f.size() != welcome_size || kind_of(f) != kind::welcome) return std::nullopt;
  const auto st = get<std::uint32_t>(f.data() + 16);
  if (st > 2) return std::nullopt;
  return welcome{get<std::uint64_t>(f.data() + 8), static_cast<welcome_status>(st), get<std::uint64_t>(f.data() + 24)};
}

inline std::optional<ack> decode_ack(std::span<const std::byte> f) noexcept {
  if (f.size() != ack_size || kind_of(f) != kind::ack) return std::nullopt;
  ack a{get<std::uint64_t>(f.data() + 8), get<std::uint64_t>(f.data() + 16), get<std::uint32_t>(f.data() + 24),
        get<std::uint64_t>(f.data() + 32)};
  if (a.flags > ack_gap || a.next % shmring::record::alignment != 0) return std::nullopt;
  return a;
}

/// A DATA frame's header; its chunks are read with next_chunk().
struct data_reader {
  std::span<const std::byte> frame;
  std::uint64_t session = 0;
  std::uint32_t count = 0;
  std::size_t at = data_header_size;
  std::uint32_t read = 0;

  /// False if the header is malformed.
  bool open(std::span<const std::byte> f) noexcept {
    if (f.size() < data_header_size || kind_of(f) != kind::data) return false;
    frame = f;
    session = get<std::uint64_t>(f.data() + 8);
    count = get<std::uint32_t>(f.data() + 16);
    return session != 0 && count >= 1 && count <= max_chunks && get<std::uint32_t>(f.data() + 20) == 0;
  }

  /// The next chunk, checked on its own (lengths, indices, flags); nothing if it is malformed. The caller checks
  /// that the frame had no bytes after its last chunk (done()).
  std::optional<chunk> next_chunk() noexcept {
    if (read >= count || frame.size() - at < chunk_header_size) return std::nullopt;
    const std::byte* p = frame.data() + at;
    chunk c;
    c.from = get<std::uint64_t>(p);
    c.to = get<std::uint64_t>(p + 8);
    c.sequence = get<std::uint64_t>(p + 16);
    c.timestamp_ns = get<std::uint64_t>(p + 24);
    c.type = get<std::uint32_t>(p + 32);
    c.message_length = get<std::uint32_t>(p + 36);
    c.record_length = get<std::uint32_t>(p + 40);
    c.piece_offset = get<std::uint32_t>(p + 44);
    c.length = get<std::uint32_t>(p + 48);
    c.type_tag = get<std::uint16_t>(p + 52);
    c.flags = get<std::uint8_t>(p + 54);
    namespace record = shmring::record;
    if (get<std::uint8_t>(p + 55) != 0) return std::nullopt;
    if (chunk_size(c.length) > frame.size() - at) return std::nullopt;                  // runs past the frame
    if (c.from % record::alignment != 0 || c.to % record::alignment != 0) return std::nullopt;
    if (c.to - c.from < record::size_of(c.record_length) || c.to - c.from > (std::uint64_t{1} << 41)) return std::nullopt;
    if (c.message_length > shmring::max_message_size || c.record_length > c.message_length) return std::nullopt;
    if (std::uint64_t{c.piece_offset} + c.length > c.record_length) return std::nullopt;
    if ((c.flags & ~record::known_flags) != 0) return std::nullopt;
    if ((c.flags & record::flag_first_fragment) == 0 && (c.flags & record::flag_resync) != 0) return std::nullopt;
    const bool first = (c.flags & record::flag_first_fragment) != 0, last = (c.flags & record::flag_last_fragment) != 0;
    if (first && last && c.record_length != c.message_length) return std::nullopt;
    c.payload = p + chunk_header_size;
    at += chunk_size(c.length);
    ++read;
    return c;
  }
  [[nodiscard]] bool done() const noexcept { return read == count && at == frame.size(); }
};

}  // namespace shmring_bridge::wire
