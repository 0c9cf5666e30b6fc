// The compile-time baseline for bench/enums: the classic one-instantiation-per-value reflection.
//
// This is the technique that popular enum-reflection libraries use, written here in a few
// lines so the benchmark needs nothing outside the tree: one function template is instantiated
// for every candidate value in [-128, 127], its __PRETTY_FUNCTION__ is parsed at compile time,
// and the values that turn out to have an enumerator become a per-enum table. It is only
// what bench/enums/compile_time.py compiles beside batteries::enums; it is not a library, and
// its look-ups are deliberately simple (a table load by value, a linear scan by name).
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

namespace baseline_reflect {

inline constexpr int range_min = -128;
inline constexpr int range_max = 127;

namespace detail {

/// The enumerator's unqualified name when V names one, empty when the compiler prints it as a
/// cast, "(ns::E)5". GCC: "... [with auto V = ns::E::A; std::string_view = ...]";
/// clang: "... [V = ns::E::A]".
template <auto V>
constexpr std::string_view n() noexcept {
  constexpr std::string_view sig = __PRETTY_FUNCTION__;
  constexpr std::size_t begin = sig.find("V = ") + 4;
  constexpr std::size_t semicolon = sig.find(';', begin);
  constexpr std::size_t end = semicolon == std::string_view::npos ? sig.rfind(']') : semicolon;
  constexpr std::string_view printed = sig.substr(begin, end - begin);
  if constexpr (printed.empty() || printed.front() == '(' || printed.front() == '-' ||
                (printed.front() >= '0' && printed.front() <= '9')) {
    return {};
  } else {
    constexpr std::size_t colon = printed.rfind(':');
    return colon == std::string_view::npos ? printed : printed.substr(colon + 1);
  }
}

template <class E, std::size_t... I>
constexpr std::array<std::string_view, sizeof...(I)> candidate_names(std::index_sequence<I...>) {
  return {{n<static_cast<E>(range_min + static_cast<int>(I))>()...}};
}

/// What reflection found for E: every candidate's name, and the named values compacted.
template <class E>
struct Table {
  static constexpr std::size_t range = range_max - range_min + 1;
  static constexpr std::array<std::string_view, range> by_offset =
      candidate_names<E>(std::make_index_sequence<range>{});

  static constexpr std::size_t count = [] {
    std::size_t c = 0;
    for (const std::string_view s : by_offset) c += s.empty() ? 0 : 1;
    return c;
  }();

  static constexpr std::array<E, count> values = [] {
    std::array<E, count> v{};
    std::size_t at = 0;
    for (std::size_t i = 0; i < range; ++i) {
      if (!by_offset[i].empty()) v[at++] = static_cast<E>(range_min + static_cast<int>(i));
    }
    return v;
  }();

  // The names are copied into one array of characters, so that the long signatures of the
  // instantiations above need not be kept in the program.
  static constexpr std::size_t chars = [] {
    std::size_t c = 0;
    for (const std::string_view s : by_offset) c += s.size();
    return c;
  }();

  static constexpr std::array<char, chars + 1> storage = [] {
    std::array<char, chars + 1> out{};
    std::size_t at = 0;
    for (const std::string_view s : by_offset) {
      for (const char c : s) out[at++] = c;
    }
    return out;
  }();

  static constexpr std::array<std::string_view, range> names = [] {
    std::array<std::string_view, range> out{};
    std::size_t at = 0;
    for (std::size_t i = 0; i < range; ++i) {
      out[i] = std::string_view(storage.data() + at, by_offset[i].size());
      at += by_offset[i].size();
    }
    return out;
  }();
};

}  // namespace detail

/// The enumerator's name, or empty for a value outside the range or with no enumerator.
template <class E>
constexpr std::string_view name(E e) noexcept {
  const auto offset = static_cast<long long>(e) - range_min;
  if (offset < 0 || offset >= static_cast<long long>(detail::Table<E>::range)) return {};
  return detail::Table<E>::names[static_cast<std::size_t>(offset)];
}

/// The enumerator named s, by a linear scan.
template <class E>
constexpr std::optional<E> from_name(std::string_view s) noexcept {
  for (const E e : detail::Table<E>::values) {
    if (name(e) == s) return e;
  }
  return std::nullopt;
}

/// The enumerator with value v.
template <class E>
constexpr std::optional<E> from_value(std::underlying_type_t<E> v) noexcept {
  const E e = static_cast<E>(v);
  if (name(e).empty()) return std::nullopt;
  return e;
}

}  // namespace baseline_reflect
