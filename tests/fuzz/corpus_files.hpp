// Test support for the fuzz replays: the files of a seed corpus folder, each as its name and its bytes.
// May touch: the folder it is given (read only).
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

namespace shmring_fuzz_replay {

inline std::vector<std::pair<std::string, std::vector<std::uint8_t>>> corpus(const char* folder) {
  std::vector<std::pair<std::string, std::vector<std::uint8_t>>> out;
  for (const auto& e : std::filesystem::directory_iterator(folder)) {
    std::ifstream f(e.path(), std::ios::binary);
    out.emplace_back(e.path().filename().string(),
                     std::vector<std::uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()));
  }
  return out;
}

}  // namespace shmring_fuzz_replay
