// bench/pathlib/compare.py's C++ peers: batteries::pathlib and std::filesystem, timed in-process.
//
//   pathlib_bench <mode> <args> [--repeat R]
//     rglob ROOT PATTERN  Path(ROOT).rglob(PATTERN), each result's str() taken and its size
//                         summed (the results are made and read, as a caller would)
//     fs-rglob ROOT PATTERN  the same job with std::filesystem::recursive_directory_iterator:
//                         symlinks not followed (as rglob's "**"), unreadable directories
//                         skipped, each entry whose name matches kept as a std::string.
//                         PATTERN must be "*" and a literal ("*.py"): for a name, fnmatch of
//                         "*.py" (case-sensitive, as POSIX pathlib; '*' takes any run, a
//                         leading dot and the empty run included) is exactly "ends with
//                         .py", and so is the whole path's text, since it ends in the name
//     walk ROOT           Path(ROOT).walk(): directories and files counted; each name ending
//                         in ".py" (in dirnames or filenames) joined onto dirpath, str() summed
//     parse N             N PurePosixPath from realistic strings, then name(), suffix() and
//                         parent().str()
//     fs-parse N          N std::filesystem::path from the same strings, then filename(),
//                         extension() and parent_path()
//     join N              N joins of a parsed base with 3 segments by operator/, then str()
//     fs-join N           the same with std::filesystem::path, then native()
//
// The parse and join workloads go through the same 4,096 strings in the same order, and
// every result is read into a checksum of sizes (the two libraries' checksums differ: they
// normalise differently). Each workload runs R times (default 3) in the process; prints one
// JSON line {"impl", "workload", "n", "count", "bytes", "seconds", "min_seconds", "repeat"},
// where seconds is the median of the R runs and min_seconds the fastest. count is the number
// of results (rglob, fs-rglob), of ".py" names (walk) or of operations (parse, join); bytes
// is the sum of their paths' lengths, or the checksum.
#include <batteries/pathlib.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace pl = batteries::pathlib;
using Clock = std::chrono::steady_clock;

// What one run found; every run of a workload must find the same.
struct Outcome {
  std::size_t count = 0;
  std::size_t bytes = 0;
  std::size_t files = 0;  // walk: the files seen
  bool operator==(const Outcome&) const = default;
};

struct Timing {
  Outcome outcome;
  double median = 0;
  double min = 0;
};

template <class F>
Timing time_runs(int repeat, F&& once) {
  Timing t;
  std::vector<double> seconds;
  for (int i = 0; i < repeat; ++i) {
    const auto start = Clock::now();
    const Outcome out = once();
    seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    if (i > 0 && !(out == t.outcome)) throw std::runtime_error("runs disagree");
    t.outcome = out;
  }
  std::sort(seconds.begin(), seconds.end());
  const std::size_t n = seconds.size();
  t.median = n % 2 == 1 ? seconds[n / 2] : (seconds[n / 2 - 1] + seconds[n / 2]) / 2;
  t.min = seconds.front();
  return t;
}

// ---- the tree ----

Outcome rglob(const std::string& root, const std::string& pattern) {
  Outcome out;
  for (const pl::Path& path : pl::Path(root).rglob(pattern)) {
    ++out.count;
    out.bytes += path.str().size();
  }
  return out;
}

Outcome fs_rglob(const std::string& root, std::string_view suffix) {
  Outcome out;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  if (ec) throw fs::filesystem_error("recursive_directory_iterator", root, ec);
  for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
    if (ec) throw fs::filesystem_error("recursive_directory_iterator", root, ec);
    const std::string& text = it->path().native();
    if (!text.ends_with(suffix)) continue;
    const std::string result = text;  // a result of its own, as rglob's are
    ++out.count;
    out.bytes += result.size();
  }
  return out;
}

Outcome walk(const std::string& root) {
  Outcome out;
  auto count = [&out](const pl::Path& dir, const std::vector<std::string>& names) {
    for (const std::string& name : names) {
      if (!name.ends_with(".py")) continue;
      ++out.count;
      out.bytes += (dir / name).str().size();
    }
  };
  for (const pl::WalkEntry& entry : pl::Path(root).walk()) {
    out.files += entry.filenames.size();
    count(entry.dirpath, entry.dirnames);
    count(entry.dirpath, entry.filenames);
  }
  return out;
}

// ---- parsing and joining ----

constexpr std::size_t kSamples = 4096;  // a power of two: index with a mask

// A fixed pseudo-random sequence (PCG's LCG step), the same in every process.
class Picker {
 public:
  std::size_t below(std::size_t bound) {
    m_state = m_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::size_t>(m_state >> 33) % bound;
  }
  template <class A>
  std::string_view operator()(const A& choices) {
    return choices[below(choices.size())];
  }

 private:
  std::uint64_t m_state = 0x853c49e6748fea9bULL;
};

// Paths as programs meet them: absolute and relative, deep and shallow, with "." and "//"
// and trailing slashes to normalise, dotfiles, multiple suffixes, and a few bare names.
std::vector<std::string> make_samples() {
  static constexpr std::array<std::string_view, 10> pkgs{
      "numpy", "requests", "django",  "urllib3", "setuptools",
      "pip",   "yaml",     "certifi", "idna",    "charset_normalizer"};
  static constexpr std::array<std::string_view, 10> mods{
      "core",   "utils",      "__init__",  "api",         "models",
      "compat", "exceptions", "_internal", "test_parser", "conftest"};
  static constexpr std::array<std::string_view, 10> exts{".py",  ".pyc", ".tar.gz", ".txt", ".json",
                                                         ".cpp", ".h",   ".so.1.2", ".md",  ""};
  static constexpr std::array<std::string_view, 4> users{"alice", "bob", "carol", "dave"};
  Picker pick;
  std::vector<std::string> out;
  out.reserve(kSamples);
  for (std::size_t i = 0; i < kSamples; ++i) {
    std::string s;
    switch (i % 13) {
      case 0:
        s.append("/usr/lib/python3/dist-packages/").append(pick(pkgs)).append("/");
        s.append(pick(mods)).append(pick(exts));
        break;
      case 1:
        s.append("relative/dir/./x//").append(pick(mods)).append(pick(exts));
        break;
      case 2:
        s.append("/home/").append(pick(users)).append("/src/").append(pick(pkgs));
        s.append("/build/CMakeFiles/").append(pick(mods)).append(".dir/");
        s.append(pick(mods)).append(".cpp.o");
        break;
      case 3:
        s.append(pick(pkgs)).append("/").append(pick(mods)).append("/__init__.py");
        break;
      case 4:
        s.append("./docs/").append(pick(mods)).append(".md");
        break;
      case 5:
        s.append("../").append(pick(pkgs)).append("/README");
        break;
      case 6:
        s.append("/etc/").append(pick(pkgs)).append(".conf");
        break;
      case 7:
        s.append("/var/log/").append(pick(pkgs)).append("/").append(pick(mods)).append(".log.1");
        break;
      case 8:
        s.append("~/.config/").append(pick(pkgs)).append("/settings.json");
        break;
      case 9:
        s.append("/tmp//").append(pick(users)).append("/").append(pick(mods)).append("/");
        break;
      case 10:
        s.append(pick(mods)).append(pick(exts));
        break;
      case 11:
        s.append("/opt/").append(pick(pkgs)).append("/lib/python3.11/site-packages/");
        s.append(pick(pkgs)).append("-1.2.3.dist-info/RECORD");
        break;
      default:
        s = i % 2 == 0 ? ".bashrc" : "/";
        break;
    }
    out.push_back(std::move(s));
  }
  return out;
}

// The segments joined on, mostly plain names; some hold a '/', one is absolute (it replaces
// the base, in both libraries) and one is "..", kept as it is by both.
const std::array<std::string, 12> kSegments{"src",         "lib",   "__init__.py", "build/out",
                                            "data.tar.gz", "..",    "sub/dir",     "x.py",
                                            "README.md",   "tests", "/srv/www",    "site-packages"};

// Which three segments each sample is joined with.
std::vector<std::array<std::size_t, 3>> make_triples() {
  Picker pick;
  std::vector<std::array<std::size_t, 3>> out(kSamples);
  for (auto& triple : out) {
    for (std::size_t& index : triple) index = pick.below(kSegments.size());
  }
  return out;
}

Outcome parse(const std::vector<std::string>& samples, std::size_t n) {
  Outcome out;
  for (std::size_t i = 0; i < n; ++i) {
    const pl::PurePosixPath path(samples[i & (kSamples - 1)]);
    out.bytes += path.name().size() + path.suffix().size() + path.parent().str().size();
  }
  out.count = n;
  return out;
}

Outcome fs_parse(const std::vector<std::string>& samples, std::size_t n) {
  Outcome out;
  for (std::size_t i = 0; i < n; ++i) {
    const fs::path path(samples[i & (kSamples - 1)]);
    out.bytes += path.filename().native().size() + path.extension().native().size() +
                 path.parent_path().native().size();
  }
  out.count = n;
  return out;
}

template <class P, class Text>
Outcome join(const std::vector<P>& bases, const std::vector<std::array<std::size_t, 3>>& triples,
             std::size_t n, Text text) {
  Outcome out;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t k = i & (kSamples - 1);
    const auto& t = triples[k];
    out.bytes += text(bases[k] / kSegments[t[0]] / kSegments[t[1]] / kSegments[t[2]]);
  }
  out.count = n;
  return out;
}

// ---- the command line ----

std::size_t to_size(std::string_view text) {
  std::size_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw std::invalid_argument("not a count: " + std::string(text));
  }
  return value;
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

int usage() {
  std::fputs(
      "usage: pathlib_bench rglob ROOT PATTERN | fs-rglob ROOT PATTERN | walk ROOT |\n"
      "       {parse,fs-parse,join,fs-join} N   [--repeat R]\n",
      stderr);
  return 2;
}

int run(std::vector<std::string_view> args) {
  int repeat = 3;
  if (args.size() >= 2 && args[args.size() - 2] == "--repeat") {
    repeat = static_cast<int>(to_size(args.back()));
    args.resize(args.size() - 2);
  }
  if (args.empty() || repeat < 1) return usage();
  const std::string_view mode = args[0];
  const bool ours = !mode.starts_with("fs-");
  std::size_t n = 0;
  Timing t;
  if ((mode == "rglob" || mode == "fs-rglob") && args.size() == 3) {
    const std::string root(args[1]);
    const std::string pattern(args[2]);
    if (ours) {
      t = time_runs(repeat, [&] { return rglob(root, pattern); });
    } else {
      const std::string_view suffix = std::string_view(pattern).substr(1);
      if (!pattern.starts_with('*') || suffix.find_first_of("*?[") != std::string_view::npos) {
        std::fputs("fs-rglob: PATTERN must be '*' then a literal suffix\n", stderr);
        return 2;
      }
      t = time_runs(repeat, [&] { return fs_rglob(root, suffix); });
    }
  } else if (mode == "walk" && args.size() == 2) {
    const std::string root(args[1]);
    t = time_runs(repeat, [&] { return walk(root); });
  } else if ((mode == "parse" || mode == "fs-parse") && args.size() == 2) {
    n = to_size(args[1]);
    const std::vector<std::string> samples = make_samples();
    t = ours ? time_runs(repeat, [&] { return parse(samples, n); })
             : time_runs(repeat, [&] { return fs_parse(samples, n); });
  } else if ((mode == "join" || mode == "fs-join") && args.size() == 2) {
    n = to_size(args[1]);
    const std::vector<std::string> samples = make_samples();
    const auto triples = make_triples();
    // The bases are parsed before the clock starts: only the joins are timed.
    if (ours) {
      const std::vector<pl::PurePosixPath> bases(samples.begin(), samples.end());
      t = time_runs(repeat, [&] {
        return join(bases, triples, n, [](const pl::PurePosixPath& p) { return p.str().size(); });
      });
    } else {
      const std::vector<fs::path> bases(samples.begin(), samples.end());
      t = time_runs(repeat, [&] {
        return join(bases, triples, n, [](const fs::path& p) { return p.native().size(); });
      });
    }
  } else {
    return usage();
  }
  std::printf(
      "{\"impl\": %s, \"workload\": %s, \"n\": %zu, \"count\": %zu, \"bytes\": %zu, "
      "\"files\": %zu, \"seconds\": %.9f, \"min_seconds\": %.9f, \"repeat\": %d}\n",
      json_string(ours ? "batteries" : "std::filesystem").c_str(),
      json_string(ours ? mode : mode.substr(3)).c_str(), n, t.outcome.count, t.outcome.bytes,
      t.outcome.files, t.median, t.min, repeat);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(std::vector<std::string_view>(argv + 1, argv + argc));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pathlib_bench: %s\n", e.what());
    return 1;
  }
}
