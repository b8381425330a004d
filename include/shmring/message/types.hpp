// shmring: what a message is (type, flags) and what a receiver gets (message, message_view, message_info).
// May touch: nothing shared. Plain values; the flag bits are the record format's (layout/record.hpp).
#pragma once

#include <shmring/config.hpp>
#include <shmring/error.hpp>
#include <shmring/layout/record.hpp>

#include <array>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace shmring {

/// The bytes of a string, to send as a message payload (try_send(text_bytes(s))).
inline std::span<const std::byte> text_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

/// The object bytes of v, to send as a message payload (try_send(object_bytes(v)); receive with message::as<T>()).
template <trivially_copyable_message T>
std::span<const std::byte> object_bytes(const T& v) noexcept {
  return std::as_bytes(std::span<const T, 1>(std::addressof(v), 1));
}

namespace detail {
/// Why a message with this type tag is not a T, or "" when it may be: a T that declares shmring_type_name refuses
/// a message tagged for another name (a message without a tag, sent as bytes, is judged by its size alone).
template <class T>
std::string tag_mismatch(std::uint16_t tag) {
  constexpr std::uint16_t mine = record::tag_of(type_name_of<T>());
  if (mine == 0 || tag == 0 || tag == mine) return {};
  return "the message was sent as another type (tag " + std::to_string(tag) + "), not \"" +
         std::string(type_name_of<T>()) + "\" (tag " + std::to_string(mine) + ")";
}

/// A payload as a T: exactly sizeof(T) bytes, and no type tag of another name; or errc::type_mismatch.
template <class T>
T payload_as(std::span<const std::byte> p, std::uint16_t tag = 0) {
  if (const std::string why = tag_mismatch<T>(tag); !why.empty()) throw error(errc::type_mismatch, {}, why);
  if (p.size() != sizeof(T))
    throw error(errc::type_mismatch, {},
                "the message has " + std::to_string(p.size()) + " payload bytes, the type " + std::to_string(sizeof(T)));
  std::array<std::byte, sizeof(T)> raw;
  std::memcpy(raw.data(), p.data(), sizeof(T));
  return std::bit_cast<T>(raw);
}
}  // namespace detail

/// What a message is. The values are BitRPC's, so other implementations interoperate. Any 32-bit value may be
/// sent; values from custom_min up are the application's, 5..999 are reserved for future shmring use.
enum class message_type : std::uint32_t {
  data = 1,
  control = 2,
  heartbeat = 3,
  error = 4,
  custom_min = 1000,
};

/// Flags of a message (BitRPC's values). urgent, compressed and encrypted are the sender's, carried unchanged
/// and not interpreted; last_fragment is managed by the ring (a sender's is ignored, a receiver never sees it).
enum class message_flags : std::uint8_t {
  none = 0,
  urgent = record::flag_urgent,
  compressed = record::flag_compressed,
  encrypted = record::flag_encrypted,
  last_fragment = record::flag_last_fragment,
};

/// Flag sets combine and intersect like bit masks.
constexpr message_flags operator|(message_flags a, message_flags b) noexcept {
  return static_cast<message_flags>(static_cast<std::uint8_t>(a) | static_cast<std::uint8_t>(b));
}
constexpr message_flags operator&(message_flags a, message_flags b) noexcept {
  return static_cast<message_flags>(static_cast<std::uint8_t>(a) & static_cast<std::uint8_t>(b));
}
constexpr message_flags& operator|=(message_flags& a, message_flags b) noexcept { return a = a | b; }
/// Whether every flag of `which` is set in `f`.
constexpr bool has(message_flags f, message_flags which) noexcept { return (f & which) == which; }

/// What a received message carried, besides its payload.
struct message_info {
  message_type type = message_type::data;     ///< as sent
  message_flags flags = message_flags::none;  ///< as sent (urgent, compressed, encrypted)
  std::uint64_t sequence = 0;      ///< per ring, from 0; consecutive unless a producer gave a message up
  std::uint64_t timestamp_ns = 0;  ///< CLOCK_MONOTONIC (steady_clock on Linux) when the send began; 0 from a
                                   ///< producer made with options::timestamps = false
  std::size_t length = 0;          ///< payload bytes
  std::uint16_t type_tag = 0;      ///< sent by send_typed<T> of a T with shmring_type_name: record::tag_of(name)

  /// The timestamp as a steady_clock time point (libstdc++ and libc++ use CLOCK_MONOTONIC on Linux).
  [[nodiscard]] std::chrono::steady_clock::time_point time() const noexcept {
    return std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::nanoseconds(timestamp_ns)));
  }
};

/// A received message that owns its payload.
struct message {
  message_type type = message_type::data;     ///< as sent
  message_flags flags = message_flags::none;  ///< as sent (urgent, compressed, encrypted)
  std::uint64_t sequence = 0;      ///< per ring, from 0; consecutive unless a producer gave a message up
  std::uint64_t timestamp_ns = 0;  ///< CLOCK_MONOTONIC when the send began (0 without options::timestamps)
  std::vector<std::byte> payload;
  std::uint16_t type_tag = 0;      ///< see message_info::type_tag

  /// The payload as characters (no copy; valid while the message lives).
  [[nodiscard]] std::string_view text() const noexcept {
    return {reinterpret_cast<const char*>(payload.data()), payload.size()};
  }
  /// Payload bytes.
  [[nodiscard]] std::size_t size() const noexcept { return payload.size(); }
  /// Everything but the payload.
  [[nodiscard]] message_info info() const noexcept {
    return {type, flags, sequence, timestamp_ns, payload.size(), type_tag};
  }
  /// The timestamp as a steady_clock time point.
  [[nodiscard]] std::chrono::steady_clock::time_point time() const noexcept { return info().time(); }
  /// The payload as a T (sent with send_typed or object_bytes). Throws errc::type_mismatch unless the payload
  /// has exactly sizeof(T) bytes, or when T declares shmring_type_name and the message was tagged for another.
  template <trivially_copyable_message T>
  [[nodiscard]] T as() const {
    return detail::payload_as<T>(payload, type_tag);
  }
};

/// A received message in place (zero copy): valid until message_consumer::release() (or the consumer's end).
struct message_view {
  message_info info;                   ///< type, flags, sequence, timestamp, length
  std::span<const std::byte> payload;  ///< 8-byte aligned; in the ring, or in the consumer's reassembly buffer

  /// The payload as characters.
  [[nodiscard]] std::string_view text() const noexcept {
    return {reinterpret_cast<const char*>(payload.data()), payload.size()};
  }
  /// The payload as a T (copied out of the ring). Throws errc::type_mismatch unless it has sizeof(T) bytes.
  template <trivially_copyable_message T>
  [[nodiscard]] T as() const {
    return detail::payload_as<T>(payload, info.type_tag);
  }
};

}  // namespace shmring
