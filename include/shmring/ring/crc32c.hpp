// shmring: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, initial and final value 0xFFFFFFFF), the checksum
// of a file-backed message ring's records (layout/record.hpp, docs/durability.md).
// May touch: nothing but the bytes it is handed. A pure function: the SSE 4.2 crc32 instruction where the CPU has
// it (checked once, at the first call), a table of 8 x 256 words (slicing by 8) elsewhere. Both give the same
// value; tests/durable compares them with boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true>.
// The library itself needs no Boost, so the table is built here, at compile time.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace shmring::crc32c {

namespace detail {
inline constexpr std::uint32_t polynomial = 0x82F63B78u;  // 0x1EDC6F41 bit-reversed

constexpr std::array<std::array<std::uint32_t, 256>, 8> make_tables() noexcept {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) != 0 ? (c >> 1) ^ polynomial : c >> 1;
    t[0][i] = c;
  }
  for (std::size_t j = 1; j < 8; ++j)
    for (std::uint32_t i = 0; i < 256; ++i) t[j][i] = (t[j - 1][i] >> 8) ^ t[0][t[j - 1][i] & 0xffu];
  return t;
}
inline constexpr auto tables = make_tables();

/// The running (not yet finalised) CRC of n more bytes, by table.
inline std::uint32_t update_table(std::uint32_t c, const std::byte* p, std::size_t n) noexcept {
  while (n >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap64(w);
    const auto lo = static_cast<std::uint32_t>(w) ^ c;
    const auto hi = static_cast<std::uint32_t>(w >> 32);
    c = tables[7][lo & 0xffu] ^ tables[6][(lo >> 8) & 0xffu] ^ tables[5][(lo >> 16) & 0xffu] ^ tables[4][lo >> 24] ^
        tables[3][hi & 0xffu] ^ tables[2][(hi >> 8) & 0xffu] ^ tables[1][(hi >> 16) & 0xffu] ^ tables[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- != 0) c = (c >> 8) ^ tables[0][(c ^ static_cast<std::uint8_t>(*p++)) & 0xffu];
  return c;
}

#if defined(__x86_64__)
/// The same, with the SSE 4.2 crc32 instruction (8 bytes a step).
__attribute__((target("sse4.2"))) inline std::uint32_t update_sse42(std::uint32_t c, const std::byte* p,
                                                                     std::size_t n) noexcept {
  std::uint64_t c64 = c;
  while (n >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    c64 = __builtin_ia32_crc32di(c64, w);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<std::uint32_t>(c64);
  while (n-- != 0) c32 = __builtin_ia32_crc32qi(c32, static_cast<unsigned char>(*p++));
  return c32;
}
inline bool have_sse42() noexcept {
  static const bool yes = __builtin_cpu_supports("sse4.2");
  return yes;
}
#endif
}  // namespace detail

/// The running CRC after n more bytes (start with `initial`, finish with finish()).
inline constexpr std::uint32_t initial = 0xFFFFFFFFu;
inline std::uint32_t update(std::uint32_t c, const void* data, std::size_t n) noexcept {
  const auto* p = static_cast<const std::byte*>(data);
#if defined(__x86_64__)
  if (detail::have_sse42()) return detail::update_sse42(c, p, n);
#endif
  return detail::update_table(c, p, n);
}
constexpr std::uint32_t finish(std::uint32_t c) noexcept { return c ^ 0xFFFFFFFFu; }

/// CRC-32C of n bytes.
inline std::uint32_t of(const void* data, std::size_t n) noexcept { return finish(update(initial, data, n)); }

/// The table path alone (tests compare it with the instruction's).
inline std::uint32_t of_by_table(const void* data, std::size_t n) noexcept {
  return finish(detail::update_table(initial, static_cast<const std::byte*>(data), n));
}

}  // namespace shmring::crc32c
