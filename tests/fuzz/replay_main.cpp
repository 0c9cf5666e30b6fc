// Runs a fuzz target without libFuzzer, with any compiler: every file of the corpora given on
// the command line, then pseudo-random inputs from a fixed seed.
//
//   pathlib_fuzz_replay [--random=N] [--seed=S] PATH...
//
// A PATH is a file or a directory of files (not recursive, in name order). The random inputs
// are a selector byte and pieces drawn from a table of path fragments, joined with NULs now
// and then, so that they reach the parsers' corners more often than random bytes would. The
// target aborts on a failure and prints the input; exit status 0 means all passed.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

void run_one(std::string_view input) {
  (void)LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
}

bool read_file(const std::filesystem::path& path, std::string& out) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return false;
  out.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  return !file.bad();
}

// Fragments that the path parsers treat specially, in both flavours.
constexpr std::string_view kPieces[] = {"a",
                                        "B",
                                        "c:",
                                        "C:",
                                        "d:",
                                        "/",
                                        "\\",
                                        "//",
                                        "\\\\",
                                        "?",
                                        ".",
                                        "..",
                                        "x.y",
                                        ".bashrc",
                                        "bar.",
                                        "a..b",
                                        "..a",
                                        "UNC",
                                        "unc",
                                        "server",
                                        "share",
                                        "con",
                                        "NUL",
                                        "Com1",
                                        " ",
                                        ":",
                                        "*",
                                        "[",
                                        "]",
                                        "!",
                                        "-",
                                        "\xc3\xa9",
                                        "\xc3\x89",
                                        "\xce\xa3",
                                        "\xc4\xb0",
                                        "\xff",
                                        "\xc3",
                                        "**",
                                        "[!a-c]",
                                        ".tar.gz",
                                        "\\\\?\\",
                                        "\\\\.\\",
                                        "//x",
                                        "x",
                                        "a.",
                                        "...",
                                        "nul.txt",
                                        "lpt\xc2\xb9",
                                        "$",
                                        "K",
                                        "\xe2\x84\xaa",
                                        std::string_view("\0", 1),
                                        std::string_view("\0", 1),
                                        std::string_view("\0", 1)};

std::string random_input(std::mt19937& rng) {
  std::string out(1, static_cast<char>(rng() & 0xFF));
  const std::size_t count = rng() % 15;
  for (std::size_t i = 0; i < count; ++i) out += kPieces[rng() % std::size(kPieces)];
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t random_count = 3000;
  std::uint32_t seed = 20240601;
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("--random=")) {
      random_count = std::strtoul(argv[i] + 9, nullptr, 10);
    } else if (arg.starts_with("--seed=")) {
      seed = static_cast<std::uint32_t>(std::strtoul(argv[i] + 7, nullptr, 10));
    } else if (std::filesystem::is_directory(arg)) {
      std::vector<std::filesystem::path> found;
      for (const auto& entry : std::filesystem::directory_iterator(arg)) {
        if (entry.is_regular_file()) found.push_back(entry.path());
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (std::filesystem::is_regular_file(arg)) {
      files.emplace_back(arg);
    } else {
      std::fprintf(stderr, "%s: no such file or directory: %s\n", argv[0], argv[i]);
      return 2;
    }
  }
  std::string input;
  for (const auto& file : files) {
    if (!read_file(file, input)) {
      std::fprintf(stderr, "%s: cannot read %s\n", argv[0], file.string().c_str());
      return 2;
    }
    run_one(input);
  }
  std::mt19937 rng(seed);
  for (std::size_t i = 0; i < random_count; ++i) run_one(random_input(rng));
  std::printf("%zu corpus files and %zu random inputs passed\n", files.size(), random_count);
  return 0;
}
