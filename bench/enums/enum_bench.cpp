// The run-time cost of batteries::enums' name(), from_name() and from_value() beside the code
// they replace: a hand-written switch, an if-chain, a std::unordered_map. Every benchmark runs
// kOps calls on random inputs prepared outside the timed loop, so branch prediction sees a
// realistic mix; bench/enums/compare.py divides by the "ops" counter and prints the ratios.
#include <batteries/enum.hpp>

#include <benchmark/benchmark.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace reflected {
// No macro: batteries::enums finds the names by reflection. Values 0..15.
enum class Status : int {
  OK,
  CREATED,
  ACCEPTED,
  NO_CONTENT,
  MOVED_PERMANENTLY,
  FOUND,
  NOT_MODIFIED,
  BAD_REQUEST,
  UNAUTHORIZED,
  FORBIDDEN,
  NOT_FOUND,
  METHOD_NOT_ALLOWED,
  CONFLICT,
  TOO_MANY_REQUESTS,
  INTERNAL_SERVER_ERROR,
  SERVICE_UNAVAILABLE,
};
}  // namespace reflected

namespace declared {
// The same names through BATTERIES_ENUM: Python's auto() values, 1..16.
BATTERIES_ENUM(Status, int, OK, CREATED, ACCEPTED, NO_CONTENT, MOVED_PERMANENTLY, FOUND,
               NOT_MODIFIED, BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, METHOD_NOT_ALLOWED,
               CONFLICT, TOO_MANY_REQUESTS, INTERNAL_SERVER_ERROR, SERVICE_UNAVAILABLE);
}  // namespace declared

namespace {

namespace enums = batteries::enums;

// The members of both enums, for the hand-written peers below.
// clang-format off
#define STATUS_MEMBERS(X) \
  X(OK) X(CREATED) X(ACCEPTED) X(NO_CONTENT) \
  X(MOVED_PERMANENTLY) X(FOUND) X(NOT_MODIFIED) X(BAD_REQUEST) \
  X(UNAUTHORIZED) X(FORBIDDEN) X(NOT_FOUND) X(METHOD_NOT_ALLOWED) \
  X(CONFLICT) X(TOO_MANY_REQUESTS) X(INTERNAL_SERVER_ERROR) X(SERVICE_UNAVAILABLE)
// clang-format on

constexpr std::size_t kOps = 1024;  // calls per benchmark iteration

// Names that no member has: other cases, near misses, other statuses; lengths 0 to 21.
constexpr std::array<std::string_view, 16> kMisses = {
    "Ok",        "created",      "NOT_FOUNDS",       "GONE",
    "",          "BAD_GATEWAY",  "PAYMENT_REQUIRED", "IM_A_TEAPOT",
    "LOCKED",    "URI_TOO_LONG", "NOT_ACCEPTABLE",   "internal_server_error",
    "SEE_OTHER", "FORBIDDEN_",   "PARTIAL_CONTENT",  "SERVICE_UNAVAILABLX",
};

[[noreturn, gnu::noinline, gnu::cold]] void bad_value(int v) {
  throw std::invalid_argument("not a Status: " + std::to_string(v));
}

[[noreturn, gnu::noinline, gnu::cold]] void bad_name(std::string_view s) {
  throw std::invalid_argument("no Status named " + std::string(s));
}

// ---- The hand-written peers, as one would write them for one enum ----

template <class E>
std::string_view switch_name(E e) {
#define BATTERIES_BENCH_CASE(m) \
  case E::m:                    \
    return #m;
  switch (e) { STATUS_MEMBERS(BATTERIES_BENCH_CASE) }
#undef BATTERIES_BENCH_CASE
  bad_value(static_cast<int>(e));
}

template <class E>
std::optional<E> if_chain_try_from_name(std::string_view s) {
#define BATTERIES_BENCH_IF(m) \
  if (s == #m) return E::m;
  STATUS_MEMBERS(BATTERIES_BENCH_IF)
#undef BATTERIES_BENCH_IF
  return std::nullopt;
}

template <class E>
E if_chain_from_name(std::string_view s) {
  if (const auto e = if_chain_try_from_name<E>(s)) return *e;
  bad_name(s);
}

template <class E>
const std::unordered_map<std::string_view, E>& name_map() {
  static const auto map = [] {
    std::unordered_map<std::string_view, E> m;
    for (const auto& member : enums::members_with_aliases<E>())
      m.emplace(member.name, member.value);
    return m;
  }();
  return map;
}

template <class E>
std::optional<E> switch_try_from_value(int v) {
#define BATTERIES_BENCH_CASE(m) \
  case static_cast<int>(E::m):  \
    return E::m;
  switch (v) {
    STATUS_MEMBERS(BATTERIES_BENCH_CASE)
    default:
      return std::nullopt;
  }
#undef BATTERIES_BENCH_CASE
}

template <class E>
E switch_from_value(int v) {
#define BATTERIES_BENCH_CASE(m) \
  case static_cast<int>(E::m):  \
    return E::m;
  switch (v) { STATUS_MEMBERS(BATTERIES_BENCH_CASE) }
#undef BATTERIES_BENCH_CASE
  bad_value(v);
}

// ---- Inputs, made once per benchmark outside the timed loop ----

std::vector<std::size_t> random_indices(std::size_t bound) {
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<std::size_t> pick(0, bound - 1);
  std::vector<std::size_t> out(kOps);
  for (auto& i : out) i = pick(rng);
  return out;
}

template <class E>
std::vector<E> random_members() {
  std::vector<E> out;
  for (const std::size_t i : random_indices(enums::count<E>()))
    out.push_back(enums::members<E>()[i]);
  return out;
}

template <class E>
std::vector<int> random_values() {
  std::vector<int> out;
  for (const E e : random_members<E>()) out.push_back(enums::value(e));
  return out;
}

// Strings of their own, as a parser would hand them over: never the enum's own storage.
struct Names {
  std::vector<std::string> storage;
  std::vector<std::string_view> views;
};

template <class E>
Names random_names() {
  Names out;
  for (const E e : random_members<E>()) out.storage.emplace_back(enums::name(e));
  for (const auto& s : out.storage) out.views.emplace_back(s);
  return out;
}

Names random_misses() {
  Names out;
  for (const std::size_t i : random_indices(kMisses.size())) out.storage.emplace_back(kMisses[i]);
  for (const auto& s : out.storage) out.views.emplace_back(s);
  return out;
}

void finish(benchmark::State& state) {
  state.counters["ops"] = static_cast<double>(kOps);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kOps));
}

// What a caller does with each result, kept from being optimised away: both words of a name,
// the member, or an optional reduced to one int first (the member's value, or -1). Handing the
// optional itself to DoNotOptimize made GCC assemble it in memory and reload it whole, which
// cost about 3 ns per call on both sides and hid the look-ups being measured.
inline void consume(std::string_view s) {
  const char* data = s.data();
  std::size_t size = s.size();
  benchmark::DoNotOptimize(data);
  benchmark::DoNotOptimize(size);
}

template <class E>
void consume(E e) {
  benchmark::DoNotOptimize(e);
}

template <class E>
void consume(std::optional<E> e) {
  int v = e ? static_cast<int>(*e) : -1;
  benchmark::DoNotOptimize(v);
}

// ---- The benchmarks: one template per operation, the implementation as a lambda (a type of
// its own, so the call inlines as it would in real code) ----

template <class E, class F>
void bench_name(benchmark::State& state, F f) {
  const std::vector<E> inputs = random_members<E>();
  for (auto _ : state) {
    for (const E e : inputs) {
      consume(f(e));
    }
  }
  finish(state);
}

template <class E, class F>
void bench_from_name(benchmark::State& state, const Names& inputs, F f) {
  for (auto _ : state) {
    for (const std::string_view s : inputs.views) {
      consume(f(s));
    }
  }
  finish(state);
}

template <class E, class F>
void bench_from_value(benchmark::State& state, F f) {
  const std::vector<int> inputs = random_values<E>();
  for (auto _ : state) {
    for (const int v : inputs) {
      consume(f(v));
    }
  }
  finish(state);
}

// Every implementation must agree before any of them is timed.
template <class E>
bool agree(const char* which) {
  const auto& map = name_map<E>();
  for (const E e : enums::members<E>()) {
    const std::string_view n = enums::name(e);
    const int v = enums::value(e);
    if (switch_name(e) != n || enums::from_name<E>(n) != e || if_chain_from_name<E>(n) != e ||
        map.at(n) != e || enums::from_value<E>(v) != e || switch_from_value<E>(v) != e) {
      std::fprintf(stderr, "enums_bench: %s implementations disagree on %.*s\n", which,
                   static_cast<int>(n.size()), n.data());
      return false;
    }
  }
  for (const std::string_view s : kMisses) {
    if (enums::try_from_name<E>(s) || if_chain_try_from_name<E>(s) || map.count(s) != 0) {
      std::fprintf(stderr, "enums_bench: %s: '%.*s' should not be a member\n", which,
                   static_cast<int>(s.size()), s.data());
      return false;
    }
  }
  return true;
}

template <class F>
void add(const std::string& name, F f) {
  benchmark::RegisterBenchmark(name.c_str(), f);
}

// Names are "operation/implementation/enum"; compare.py reads them that way.
template <class E>
void register_name(const std::string& which) {
  add("name/switch/" + which,
      [](benchmark::State& s) { bench_name<E>(s, [](E e) { return switch_name(e); }); });
  add("name/batteries/" + which,
      [](benchmark::State& s) { bench_name<E>(s, [](E e) { return enums::name(e); }); });
}

template <class E>
void register_from_name(const std::string& which) {
  static const Names hits = random_names<E>();
  static const Names misses = random_misses();
  const auto& map = name_map<E>();
  add("from_name/unordered_map/" + which, [&map](benchmark::State& s) {
    bench_from_name<E>(s, hits, [&map](std::string_view n) {
      const auto it = map.find(n);
      if (it == map.end()) bad_name(n);
      return it->second;
    });
  });
  add("from_name/if_chain/" + which, [](benchmark::State& s) {
    bench_from_name<E>(s, hits, [](std::string_view n) { return if_chain_from_name<E>(n); });
  });
  add("from_name/batteries/" + which, [](benchmark::State& s) {
    bench_from_name<E>(s, hits, [](std::string_view n) { return enums::from_name<E>(n); });
  });
  add("try_from_name_miss/unordered_map/" + which, [&map](benchmark::State& s) {
    bench_from_name<E>(s, misses, [&map](std::string_view n) {
      const auto it = map.find(n);
      return it == map.end() ? std::nullopt : std::optional<E>(it->second);
    });
  });
  add("try_from_name_miss/if_chain/" + which, [](benchmark::State& s) {
    bench_from_name<E>(s, misses, [](std::string_view n) { return if_chain_try_from_name<E>(n); });
  });
  add("try_from_name_miss/batteries/" + which, [](benchmark::State& s) {
    bench_from_name<E>(s, misses, [](std::string_view n) { return enums::try_from_name<E>(n); });
  });
}

template <class E>
void register_from_value(const std::string& which) {
  add("from_value/switch/" + which, [](benchmark::State& s) {
    bench_from_value<E>(s, [](int v) { return switch_from_value<E>(v); });
  });
  add("from_value/batteries/" + which, [](benchmark::State& s) {
    bench_from_value<E>(s, [](int v) { return enums::from_value<E>(v); });
  });
  add("try_from_value/switch/" + which, [](benchmark::State& s) {
    bench_from_value<E>(s, [](int v) { return switch_try_from_value<E>(v); });
  });
  add("try_from_value/batteries/" + which, [](benchmark::State& s) {
    bench_from_value<E>(s, [](int v) { return enums::try_from_value<E>(v); });
  });
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!agree<reflected::Status>("reflected") || !agree<declared::Status>("declared")) {
    return 1;
  }
  register_name<reflected::Status>("reflected");
  register_name<declared::Status>("declared");
  register_from_name<reflected::Status>("reflected");
  register_from_name<declared::Status>("declared");
  register_from_value<reflected::Status>("reflected");
  register_from_value<declared::Status>("declared");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
